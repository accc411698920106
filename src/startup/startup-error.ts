/** Configuration that parses but cannot work (e.g. an empty templates folder): start-up stops with this message. */
export class StartupError extends Error {
  override name = 'StartupError';
}
