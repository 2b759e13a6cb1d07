const { auth, describeError } = require('../../auth');

Component({
  data: { phone: '', code: '', waiting: false, done: false, userId: '', error: '' },

  methods: {
    onPhoneInput(event) {
      this.setData({ phone: event.detail.value });
    },

    onCodeInput(event) {
      this.setData({ code: event.detail.value });
    },

    onSend() {
      this.setData({ error: '' });
      return auth
        .sendSmsCode(this.data.phone)
        .then(({ retryAfter }) => {
          this.setData({ waiting: true });
          setTimeout(() => this.setData({ waiting: false }), retryAfter * 1000);
        })
        .catch((error) => this.setData({ error: describeError(error) }));
    },

    onSmsLogin() {
      return this.finish(auth.loginWithSms(this.data.phone, this.data.code));
    },

    /** One-tap login: the getPhoneNumber event as is; the SDK adds a wx.login code. */
    onGetPhoneNumber(event) {
      return this.finish(auth.phoneLogin(event));
    },

    finish(login) {
      return login
        .then(({ user }) => {
          this.setData({ done: true, userId: user.id, error: '' });
          wx.navigateBack();
        })
        .catch((error) => this.setData({ error: describeError(error) }));
    },
  },
});
