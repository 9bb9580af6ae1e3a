export { dueRuns, nextRunAt, parseSchedule, type ScheduleCheck, type ScheduleSpec } from './cron-schedule.js';
