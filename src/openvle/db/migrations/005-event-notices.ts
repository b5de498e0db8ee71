import type { Migration } from './index.js';

// The daily event lifecycle sends advance notices before an event starts
// and before it ends (issue 12, item 6); like every mail they are sent
// through an action, so that admins choose whether (a template exists)
// and what (its text per language).
export const migration005: Migration = {
  version: 5,
  name: 'mail actions for the event advance notices',
  up: [
    `INSERT IGNORE INTO mail_actions (slug, name, description) VALUES
       ('events_start_notice', 'Event starts soon', 'To every participant once, when the event starts within EVENTS_START_PREP_TIME_DAYS. Placeholders: {user.name}, {user.email}, {user.username}, {event.name}, {event.short_name}, {event.start_date}, {event.end_date}.'),
       ('events_end_notice', 'Event ends soon', 'To every participant once, when a deployed event ends within EVENTS_END_PREP_TIME_DAYS. Placeholders as for events_start_notice.')`,
  ],
};
