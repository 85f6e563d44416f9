// Minimal declaration for the untyped AMI client library; only the AMI facade uses it.
declare module 'asterisk-manager' {
  const Manager: unknown;
  export default Manager;
}
