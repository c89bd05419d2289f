// WeChat component tests run the mp-weixin build output in miniprogram-simulate (j-component on jsdom).
module.exports = {
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/tests/**/*.test.js'],
  testTimeout: 15000,
}
