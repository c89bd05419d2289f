// WeChat component tests run the mp-weixin build output in miniprogram-simulate (j-component on jsdom).
// Timers are fake from the start, before the build's runtime is loaded, so that every setTimeout
// of the runtime, the pages and the fake wx.request runs in virtual time (tests/harness.js settle):
// a test never races the wall clock, whatever the load on the machine. `now` pins today's date.
module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/tests/**/*.test.js'],
  fakeTimers: { enableGlobally: true, now: Date.parse('2026-03-02T02:00:00Z') },
  transform: { '\\.ts$': '<rootDir>/tests/ts-transform.js' },
  testTimeout: 15000,
}
