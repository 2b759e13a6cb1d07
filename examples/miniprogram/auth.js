// One auth client for the whole mini program: every page requires this module and shares its
// session, its single in-flight wx.login and its single in-flight refresh.
const { createAuthClient, createWxPlatform, WxAuthError } = require('@wxauth/client');
const config = require('./config');

/** wx.login as dev mode's simulator plays it: a code for the simulated user `config.devOpenid`. */
function simulatorLogin() {
  return new Promise((resolve, reject) => {
    wx.request({
      url: `${config.baseURL}/playground/wx/login`,
      method: 'POST',
      data: { openid: config.devOpenid },
      success: (res) =>
        res.statusCode === 200
          ? resolve(res.data.code)
          : reject(new WxAuthError('wechat_login_failed', `dev login answered ${res.statusCode}`)),
      fail: (err) => reject(new WxAuthError('wechat_login_failed', err.errMsg)),
    });
  });
}

const platform = createWxPlatform(wx);
if (config.devSimulator) platform.login = simulatorLogin;

const auth = createAuthClient({ baseURL: config.baseURL, appId: config.appId, platform });

/** A short, user-facing message for an SDK error (never a token: the SDK's messages hold none). */
function describeError(error) {
  const code = error?.code;
  if (code === 'phone_number_denied') return 'Phone number not shared';
  if (code === 'rate_limited') return `Too many tries, wait ${error.retryAfter || 60} s`;
  if (code === 'network_error') return 'Network unavailable';
  return code || 'Something went wrong';
}

module.exports = { auth, describeError };
