/**
 * Where the technician is before a job starts: the four stages of a backup or a restore, the current one
 * marked (aria-current="step"), done ones ticked.
 */
export type FlowStage = 'plan' | 'stick' | 'options' | 'run';

const STAGES: Record<'backup' | 'restore' | 'verify', { id: FlowStage; label: string }[]> = {
  backup: [
    { id: 'plan', label: 'What is copied' },
    { id: 'stick', label: 'Choose the stick' },
    { id: 'options', label: 'Options' },
    { id: 'run', label: 'Back up' },
  ],
  restore: [
    { id: 'stick', label: 'Choose the stick' },
    { id: 'plan', label: 'Choose the backup' },
    { id: 'options', label: 'Options' },
    { id: 'run', label: 'Restore' },
  ],
  verify: [
    { id: 'stick', label: 'Choose the stick' },
    { id: 'plan', label: 'Choose the backup' },
    { id: 'run', label: 'Check it' },
  ],
};

export function StepIndicator({ flow, at }: { flow: 'backup' | 'restore' | 'verify'; at: FlowStage }) {
  const stages = STAGES[flow];
  const current = stages.findIndex((s) => s.id === at);
  return (
    <nav className="step-indicator no-print" aria-label={`Steps of the ${flow}`}>
      <ol>
        {stages.map((s, i) => (
          <li
            key={s.id}
            className={i < current ? 'past' : i === current ? 'current' : 'future'}
            aria-current={i === current ? 'step' : undefined}
          >
            <span className="num" aria-hidden="true">
              {i < current ? '✓' : i + 1}
            </span>{' '}
            {s.label}
            {i < current ? <span className="visually-hidden"> (done)</span> : null}
          </li>
        ))}
      </ol>
    </nav>
  );
}
