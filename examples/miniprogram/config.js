// Where the wxauth server is. `npm start` in the repository runs it in dev mode on this address; in
// WeChat DevTools tick "Do not verify valid domain names" (不校验合法域名) to reach it. On a real phone,
// use the computer's LAN address and a domain configured in the mini program's admin console.
module.exports = {
  baseURL: 'http://127.0.0.1:3000',
  // The dev-mode app (GET /__dev). With one app configured on the server it may be left out.
  appId: 'wxdev0000000000001',
  // Dev mode's server talks to its WeChat simulator, which knows nothing of real wx.login codes: with
  // this on, codes come from the simulator's stand-in for wx.login (/playground/wx/login) instead.
  // Turn it off against a server configured with your real AppID.
  devSimulator: true,
  devOpenid: 'o_devtools_user',
};
