/**
 * Face search: drop or choose a photo, see the face the core found in it (its box drawn on the photo), then the
 * ranked matches with similarity, filterable by time and camera. 422 API_NO_FACE and 415 get their own words.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useSession } from '../context';
import { label } from '../i18n';
import { trackHref } from '../route';
import { fromLocalInput, toLocalInput } from '../filters';
import { CameraPicker } from '../components/CameraPicker';
import type { FaceSearchResult } from '../types';

export function FaceSearchView() {
  const { client, t, fmt, cameras } = useSession();
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<FaceSearchResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);

  useEffect(() => () => { if (preview) URL.revokeObjectURL(preview); }, [preview]);

  const run = async (f: File): Promise<void> => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await client.faceSearch(f, { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), cameras: [...selected], k: 30 }));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.code === 'API_NO_FACE')) setError(t('noFace'));
      else if (err instanceof ApiError && err.status === 415) setError(t('notImage'));
      else if (err instanceof ApiError && err.status === 413) setError(t('tooLarge'));
      else if (err instanceof ApiError && err.status === 404 && err.code === 'API_NOT_FOUND') setError(t('faceSearchUnavailable'));
      else setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };

  const pick = (f: File | undefined | null): void => {
    if (!f) return;
    setFile(f);
    setSize(null);
    setPreview(URL.createObjectURL(f));
    void run(f);
  };

  const box = result?.face?.box;
  const camName = (id: string): string => cameras.find((c) => c.id === id)?.name ?? id;
  return (
    <section class="faces">
      <div class="card face-input">
        <label
          class={`drop ${dragging ? 'over' : ''}`}
          data-testid="face-drop"
          onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => { e.preventDefault(); setDragging(false); pick(e.dataTransfer?.files[0]); }}
        >
          <span>{t('faceDrop')}</span>
          <input type="file" accept="image/*" data-testid="face-file" onChange={(e) => pick((e.currentTarget as HTMLInputElement).files?.[0])} />
          <span class="button">{t('faceChoose')}</span>
        </label>
        <div class="row">
          <label>{t('from')}<input type="datetime-local" value={toLocalInput(from)} onInput={(e) => setFrom(fromLocalInput((e.currentTarget as HTMLInputElement).value))} /></label>
          <label>{t('to')}<input type="datetime-local" value={toLocalInput(to)} onInput={(e) => setTo(fromLocalInput((e.currentTarget as HTMLInputElement).value))} /></label>
          <button disabled={!file || busy} onClick={() => file && void run(file)} data-testid="face-search">{busy ? t('searching') : t('search')}</button>
        </div>
        <CameraPicker selected={selected} onChange={setSelected} />
      </div>

      <div class="face-output">
      {preview && (
        <figure class="card photo" data-testid="face-photo">
          <figcaption>{box ? t('detectedFace') : file?.name}</figcaption>
          <div class="photo-wrap">
            <img src={preview} alt="" onLoad={(e) => { const i = e.currentTarget as HTMLImageElement; setSize({ w: i.naturalWidth, h: i.naturalHeight }); }} />
            {box && size && (
              <svg viewBox={`0 0 ${size.w} ${size.h}`} class="overlay" data-testid="face-box">
                <rect x={box.x} y={box.y} width={box.w} height={box.h} />
              </svg>
            )}
          </div>
        </figure>
      )}

      {error && <p class="error" role="alert" data-testid="face-error">{error}</p>}
      {result && result.matches.length === 0 && <p class="notice" data-testid="face-no-match">{t('noMatches')}</p>}
      {result && result.matches.length > 0 && (
        <>
          <h2>{t('matches')}</h2>
          <ol class="grid ranked" data-testid="face-matches">
            {result.matches.map((m, i) => (
              <li class="result" data-testid="face-match">
                <a href={trackHref(m.record.id)}>
                  <img src={client.thumbnailUrl(m.record.id)} alt="" loading="lazy" width="160" height="160" />
                  <span class="meta"><b>#{i + 1}</b> {t('similarity')} {fmt.percent(m.similarity)}</span>
                  <span class="meta">{label(t, 'cls_', m.record.cls)} · {camName(m.record.cameraId)}</span>
                  <span class="meta">{fmt.dateTime(m.record.start)}</span>
                </a>
              </li>
            ))}
          </ol>
        </>
      )}
      </div>
    </section>
  );
}
