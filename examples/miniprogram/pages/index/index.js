const { auth, describeError } = require('../../auth');

// Pages are built with Component(), which WeChat supports for pages; the official
// miniprogram-simulate can then load them in tests. Page lifecycle methods live in `methods`.
Component({
  data: { user: null, openid: '', created: '', loading: true, error: '' },

  methods: {
    onLoad() {
      this.stopListening = auth.onChange((state) => this.show(state.user));
      this.show(auth.getState().user);
      this.loadProfile();
    },

    onUnload() {
      if (this.stopListening) this.stopListening();
    },

    show(user) {
      const wechat = user?.wechat[0];
      this.setData({ user, openid: wechat ? wechat.openid : '' });
    },

    /** Joins the login app.js started on launch (one wx.login between them), then reads the profile. */
    loadProfile() {
      this.setData({ loading: true, error: '' });
      return auth
        .login()
        .then(() => auth.request({ url: '/v1/me' }))
        .then((res) => {
          const created = new Date(res.data.createdAt * 1000);
          this.setData({ loading: false, created: created.toISOString().slice(0, 10) });
        })
        .catch((error) => this.setData({ loading: false, error: describeError(error) }));
    },

    onLogin() {
      return this.loadProfile();
    },

    /** <button open-type="getPhoneNumber">: the event goes to the SDK as is. */
    onGetPhoneNumber(event) {
      return auth
        .bindPhone(event)
        .then(() => this.setData({ error: '' }))
        .catch((error) => this.setData({ error: describeError(error) }));
    },

    onLogout() {
      // The state clears at once (onChange above fires); the server call is best effort.
      return auth.logout();
    },

    goLogin() {
      wx.navigateTo({ url: '/pages/login/login' });
    },

    goSessions() {
      wx.navigateTo({ url: '/pages/sessions/sessions' });
    },
  },
});
