export * from './revocation-notifier.js';
