/** The part of @cycjimmy/jsmpeg-player (untyped on npm) that the console uses. */
declare module '@cycjimmy/jsmpeg-player' {
  interface VideoElementOptions { autoplay?: boolean; control?: boolean; picMode?: boolean; poster?: string; decodeFirstFrame?: boolean }
  class VideoElement {
    constructor(wrapper: HTMLElement | string, url: string, options?: VideoElementOptions, overlayOptions?: Record<string, unknown>);
    play(): void;
    pause(): void;
    stop(): void;
    destroy(): void;
  }
  const JSMpeg: { VideoElement: typeof VideoElement };
  export default JSMpeg;
}
