// Imported first by the WeChat tests: wechaty's own logger (brolog) reads WECHATY_LOG when loaded.
process.env.WECHATY_LOG ??= process.env.TEST_LOG ? 'verbose' : 'silent';
export {};
