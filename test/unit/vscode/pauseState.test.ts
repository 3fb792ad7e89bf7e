// PauseState keeps the state itself: VS Code refreshes an extension's global state from storage
// events, and a late one from an earlier write can hand back the value from before a pause.
import { strict as assert } from 'node:assert';
import { installVscodeStandIn } from '../../helpers/vscodeStandIn';

/** A memento whose reads can be made stale, as a late storage-change event makes VS Code's. */
class RacyMemento {
  stored = new Map<string, unknown>();
  stale: Map<string, unknown> | undefined;
  get<T>(key: string): T | undefined {
    return (this.stale ?? this.stored).get(key) as T | undefined;
  }
  update(key: string, value: unknown): Promise<void> {
    this.stored.set(key, value);
    return Promise.resolve();
  }
}

describe('PauseState', () => {
  let PauseState: typeof import('../../../src/vscode/pauseState').PauseState;
  let uninstall: () => void;
  before(() => {
    uninstall = installVscodeStandIn();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    PauseState = (require('../../../src/vscode/pauseState') as typeof import('../../../src/vscode/pauseState')).PauseState;
  });
  after(() => uninstall());

  it('stays paused when the global state is read back stale, persists the choice, and tells once', async () => {
    const memento = new RacyMemento();
    const pause = new PauseState(memento as never);
    const told: boolean[] = [];
    pause.onDidChange((p) => told.push(p));
    memento.stale = new Map([['gpt2Complete.paused', false]]);
    await pause.set(true);
    assert.equal(pause.paused, true);
    assert.equal(memento.stored.get('gpt2Complete.paused'), true);
    await pause.set(true);
    await pause.toggle();
    assert.equal(pause.paused, false);
    assert.deepEqual(told, [true, false]);
  });

  it('starts from what was stored (a pause survives a restart)', () => {
    const memento = new RacyMemento();
    memento.stored.set('gpt2Complete.paused', true);
    assert.equal(new PauseState(memento as never).paused, true);
  });
});
