// StatsStore is the vscode-facing wrapper of CompletionStats: counters persisted in a Memento (the
// extension's global state) and a change event for the status bar. `vscode` exists only inside an
// extension host, so a minimal stand-in with the one class it uses (EventEmitter) is served here.
import { strict as assert } from 'node:assert';
import { installVscodeStandIn } from '../helpers/vscodeStandIn';

class MemoryMemento {
  readonly values = new Map<string, unknown>();
  updates = 0;
  get<T>(key: string): T | undefined {
    // Stored as JSON, as VS Code does: what comes back is plain data, not the object handed in.
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }
  update(key: string, value: unknown): Promise<void> {
    this.updates++;
    this.values.set(key, value);
    return Promise.resolve();
  }
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
}

describe('stats store', () => {
  let StatsStore: typeof import('../../src/vscode/statsStore').StatsStore;

  let uninstall: () => void;

  before(() => {
    uninstall = installVscodeStandIn();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    StatsStore = (require('../../src/vscode/statsStore') as typeof import('../../src/vscode/statsStore')).StatsStore;
  });

  after(() => uninstall());

  it('counts partial accepts in the characters, persists them and survives a restart', () => {
    const memento = new MemoryMemento();
    const store = new StatsStore(memento as never);
    const seen: number[] = [];
    store.onDidChange((s) => seen.push(s.acceptedChars));
    store.recordShown();
    store.recordPartialAccept(6); // accept word
    store.recordPartialAccept(12); // accept line
    store.recordAccepted(4); // Tab takes the rest
    assert.deepEqual(store.snapshot(), { shown: 1, accepted: 1, acceptedChars: 22, partialAccepts: 2 });
    assert.equal(store.acceptRate(), 1);
    assert.deepEqual(seen, [0, 6, 18, 22]);
    assert.equal(memento.updates, 4);

    const restarted = new StatsStore(memento as never);
    assert.deepEqual(restarted.snapshot(), { shown: 1, accepted: 1, acceptedChars: 22, partialAccepts: 2 });
    restarted.reset();
    assert.deepEqual(new StatsStore(memento as never).snapshot(), { shown: 0, accepted: 0, acceptedChars: 0, partialAccepts: 0 });
    store.dispose();
    restarted.dispose();
  });

  it('starts from counters stored by a version without partial accepts', () => {
    const memento = new MemoryMemento();
    memento.values.set('gpt2Complete.stats', { shown: 9, accepted: 3, acceptedChars: 40 });
    const store = new StatsStore(memento as never);
    store.recordPartialAccept(5);
    assert.deepEqual(store.snapshot(), { shown: 9, accepted: 3, acceptedChars: 45, partialAccepts: 1 });
    store.dispose();
  });
});
