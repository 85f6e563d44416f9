// Minimal declarations for the two untyped Asterisk client libraries; only the facades use them.
declare module 'ari-client' {
  const ari: { connect(url: string, user: string, password: string): Promise<unknown> };
  export default ari;
}
declare module 'asterisk-manager' {
  const Manager: unknown;
  export default Manager;
}
