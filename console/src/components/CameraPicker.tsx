import { useSession } from '../context';
import { CameraMap } from './CameraMap';

/** Cameras picked from the list the API returned for this token, or on the little map. */
export function CameraPicker({ selected, onChange }: { selected: Set<string>; onChange: (s: Set<string>) => void }) {
  const { cameras, t } = useSession();
  const toggle = (id: string): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id); else next.add(id);
    onChange(next);
  };
  if (cameras.length === 0) return <p class="hint">{t('noCameras')}</p>;
  return (
    <fieldset class="cameras">
      <legend>{t('cameras')} <span class="hint">({selected.size ? selected.size : t('allCameras')})</span>
        {selected.size > 0 && <button type="button" class="link" onClick={() => onChange(new Set())}>{t('clearSelection')}</button>}</legend>
      <div class="camera-list" data-testid="camera-list">
        {cameras.map((c) => (
          <label class="check" title={`${c.department} · ${c.district}`}>
            <input type="checkbox" checked={selected.has(c.id)} onChange={() => toggle(c.id)} value={c.id} />
            <span class={`dot state-${c.health.state}`} />{c.name ?? c.id} <small>{c.id}</small>
          </label>
        ))}
      </div>
      <CameraMap cameras={cameras} selected={selected} onToggle={toggle} title={t('map')} />
    </fieldset>
  );
}
