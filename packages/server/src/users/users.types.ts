export interface WechatIdentity {
  appId: string;
  openid: string;
  unionid: string | null;
}

/** The public shape of a user (shared/api.md "Tokens" and GET /v1/me). */
export interface UserProfile {
  id: string;
  phone: string | null;
  wechat: WechatIdentity[];
  createdAt: Date;
}
