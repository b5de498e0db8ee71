export { SmtpClient, mailMessageId, type OutgoingMail, type SendResult, type RejectedRecipient, type SmtpClientOptions } from './client.js';
export { classifySmtpError, smtpFailure, enhancedCode, type SmtpErrorLike, type SmtpFailureClass } from './classify.js';
export {
  smtpConfigFromEnv,
  describeSmtpConfig,
  parseMailAddress,
  domainOf,
  SMTP_DEFAULTS,
  type SmtpConfig,
  type SmtpSecurity,
  type MailAddress,
} from './config.js';
