/**
 * Live view of a camera: the core's MPEG-1 stream over WebSocket (/api/v1/cameras/:id/live) drawn by the
 * JSMpeg player from npm (bundled, no CDN). The player is created on demand and destroyed on close.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSession } from '../context';

export function LiveButton({ cameraId, live }: { cameraId: string; live: boolean }) {
  const { t } = useSession();
  const [open, setOpen] = useState(false);
  if (!live) return <p class="hint">{t('liveUnavailable')}</p>;
  return (
    <div class="live">
      <button onClick={() => setOpen(!open)} data-testid="live-button">{open ? t('closeLive') : t('liveView')}</button>
      {open && <LivePlayer cameraId={cameraId} />}
      <p class="hint">{t('liveNote')}</p>
    </div>
  );
}

function LivePlayer({ cameraId }: { cameraId: string }) {
  const { client } = useSession();
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    let element: { destroy(): void } | null = null;
    let gone = false;
    void import('@cycjimmy/jsmpeg-player').then((mod) => {
      if (gone || !box.current) return;
      const JSMpeg = mod.default;
      element = new JSMpeg.VideoElement(box.current, client.wsUrl(`/api/v1/cameras/${encodeURIComponent(cameraId)}/live`), { autoplay: true, control: false, picMode: true }, { audio: false });
    }).catch((err: unknown) => setFailed(String(err)));
    return () => { gone = true; element?.destroy(); };
  }, [cameraId, client]);
  return <div class="player" ref={box} data-testid="live-player">{failed && <p class="error">{failed}</p>}</div>;
}
