const { auth, describeError } = require('../../auth');

Component({
  data: { sessions: [], loading: true, error: '' },

  methods: {
    onLoad() {
      return this.load();
    },

    load() {
      return auth
        .listSessions()
        .then((sessions) =>
          this.setData({
            loading: false,
            sessions: sessions.map((s) => ({
              id: s.id,
              current: s.current,
              since: new Date(s.createdAt * 1000).toISOString().slice(0, 16).replace('T', ' '),
            })),
          }),
        )
        .catch((error) => this.setData({ loading: false, error: describeError(error) }));
    },

    /** Ends another device's session (a lost phone). */
    onEnd(event) {
      return auth
        .revokeSession(event.currentTarget.dataset.id)
        .then(() => this.load())
        .catch((error) => this.setData({ error: describeError(error) }));
    },
  },
});
