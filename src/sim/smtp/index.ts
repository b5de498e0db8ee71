export { startSmtpSim, type SmtpSim, type SmtpSimOptions, type SmtpSimTls, type SimMessage, type SimRejection } from './sim.js';
export { checkScenario, type SmtpScenario } from './scenario.js';
export { refusedPort } from './refused-port.js';
