const { auth } = require('./auth');

App({
  onLaunch() {
    // Log in on launch. A returning user is restored from storage (no wx.login, no request); a new one
    // gets one wx.login, which pages calling auth.login() at the same time share.
    auth.login().catch(() => {
      // Pages show the logged-out state and offer a retry; nothing to do here.
    });
  },
});
