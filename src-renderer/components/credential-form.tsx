import { useId, useState, type FormEvent } from 'react';
import type { CredentialsRequest, CredentialValues } from '../../src-main/shared/contract.js';
import { useRevealedPrompt } from '../lib/reveal-prompt.js';

type Values = Record<string, Record<string, string>>;

function initialValues(req: CredentialsRequest): Values {
  const v: Values = {};
  for (const e of req.entries) {
    v[e.key] = {};
    for (const f of e.fields) v[e.key]![f.name] = f.secret ? '' : (f.value ?? '');
  }
  return v;
}

/**
 * Re-entering the secrets the restored configuration cannot carry to a new machine: one field set per entry,
 * the account shown so the technician knows which one it is, secret fields masked with a show/hide switch.
 * Values live only in this form's state and are handed to `onSubmit` once.
 */
export function CredentialForm({
  request,
  onSubmit,
}: {
  request: CredentialsRequest;
  onSubmit(values: CredentialValues | null): void;
}) {
  const uid = useId();
  const [values, setValues] = useState<Values>(() => initialValues(request));
  const [shown, setShown] = useState<Record<string, boolean>>({});
  const [missing, setMissing] = useState<string | null>(null);
  const [sent, setSent] = useState(false);
  const box = useRevealedPrompt<HTMLFormElement>();
  const fieldId = (key: string, name: string) => `${uid}-${request.entries.findIndex((e) => e.key === key)}-${name}`;

  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    for (const e of request.entries) {
      for (const f of e.fields) {
        if (f.secret && !values[e.key]?.[f.name]) {
          setMissing(`Enter the ${f.label} for ${e.resourceTitle}: ${e.entryName}.`);
          document.getElementById(fieldId(e.key, f.name))?.focus();
          return;
        }
      }
    }
    setMissing(null);
    setSent(true);
    const out = values;
    // Drop the secrets from this component before handing them over.
    setValues(initialValues(request));
    onSubmit(out);
  };

  return (
    <form ref={box} className="prompt credentials" onSubmit={submit} noValidate aria-labelledby={`${uid}-title`}>
      <h3 id={`${uid}-title`}>Enter the passwords again</h3>
      <p>
        The restored settings name these accounts, but their secrets were encrypted with a key that stays on the old
        machine. Type each secret again; it goes straight to the appliance and is never saved by the wizard.
      </p>
      {request.entries.map((e) => (
        <fieldset key={e.key} className="credential-entry" data-entry-key={e.key}>
          <legend>
            {e.resourceTitle}: <strong>{e.entryName}</strong>
          </legend>
          {e.fields.map((f) => {
            const id = fieldId(e.key, f.name);
            const visible = shown[id] === true;
            return (
              <div key={f.name} className="field">
                <label htmlFor={id}>{f.label}</label>
                <div className={f.secret ? 'secret-row' : undefined}>
                  <input
                    id={id}
                    name={`${e.key}/${f.name}`}
                    type={f.secret && !visible ? 'password' : 'text'}
                    autoComplete={f.secret ? 'new-password' : 'off'}
                    spellCheck={false}
                    value={values[e.key]?.[f.name] ?? ''}
                    onChange={(ev) => setValues((v) => ({ ...v, [e.key]: { ...v[e.key], [f.name]: ev.target.value } }))}
                  />
                  {f.secret ? (
                    <button
                      type="button"
                      className="secondary small"
                      aria-pressed={visible}
                      aria-controls={id}
                      aria-label={`${visible ? 'Hide' : 'Show'} ${f.label} for ${e.entryName}`}
                      onClick={() => setShown((s) => ({ ...s, [id]: !visible }))}
                    >
                      {visible ? 'Hide' : 'Show'}
                    </button>
                  ) : null}
                </div>
              </div>
            );
          })}
        </fieldset>
      ))}
      {missing ? (
        <p className="field-error" role="alert">
          {missing}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={sent}>
          Send to the appliance
        </button>
        <button
          type="button"
          className="secondary"
          disabled={sent}
          onClick={() => {
            setSent(true);
            onSubmit(null);
          }}
        >
          Skip — I will enter them later
        </button>
      </div>
    </form>
  );
}
