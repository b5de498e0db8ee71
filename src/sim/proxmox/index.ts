export { startProxmoxSim, type ProxmoxSim, type ProxmoxSimOptions, type ProxmoxSimToken } from './server.js';
export { SimState, SimFaults, PveError, type SimVm, type SimNode, type SimTask } from './state.js';
