// Fitting the cache model's mixture gate: the loss's gradient against finite differences, and a fit
// that learns to trust a sure cache and to leave an unsure one.
import { strict as assert } from 'node:assert';
import { fitGate, gateFeatures, gateLoss, type GateSample } from '../../src/training/cacheGateFit';
import { gateWeight } from '../../src/engine/cacheModel/mixture';

/** A deterministic stream in [0, 1). */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

function sample(rand: () => number): GateSample {
  const cacheTop = 0.1 + 0.9 * rand();
  const sure = cacheTop > 0.6;
  return {
    order: 1 + Math.floor(rand() * 5),
    count: 1 + Math.floor(rand() * 20),
    cacheTop,
    // Where the cache is sure it has the true token; where it is unsure the model has it.
    pModel: sure ? 0.02 : 0.6,
    pCache: sure ? 0.8 : 0.05,
  };
}

describe('cache mixture gate fit', () => {
  it("the loss's gradient matches finite differences", () => {
    const rand = random(11);
    const samples = Array.from({ length: 40 }, () => sample(rand));
    const features = samples.map(gateFeatures);
    const theta = Array.from({ length: features[0].length }, () => rand() - 0.5);
    const { grad } = gateLoss(theta, features, samples, 0.95, 0.01);
    for (let k = 0; k < theta.length; k++) {
      const h = 1e-5;
      const up = theta.slice(), down = theta.slice();
      up[k] += h;
      down[k] -= h;
      const numeric = (gateLoss(up, features, samples, 0.95, 0.01).loss - gateLoss(down, features, samples, 0.95, 0.01).loss) / (2 * h);
      assert.ok(Math.abs(numeric - grad[k]) < 1e-6 + 1e-4 * Math.abs(numeric), `θ[${k}]: ${grad[k]} vs ${numeric}`);
    }
  });

  it('learns to trust a sure cache and not an unsure one, and gives an unseen order almost nothing', () => {
    const rand = random(5);
    const samples = Array.from({ length: 600 }, () => sample(rand));
    const gate = fitGate(samples, { maxWeight: 0.95 });
    assert.ok(gate.cacheTop > 0, `cacheTop weight ${gate.cacheTop}`);
    const sure = samples.filter((s) => s.cacheTop > 0.7), unsure = samples.filter((s) => s.cacheTop < 0.5);
    const mean = (xs: GateSample[]) => xs.reduce((a, s) => a + gateWeight(gate, 0.95, s), 0) / xs.length;
    assert.ok(mean(sure) > 0.7 && mean(unsure) < 0.2, `w where the cache is sure ${mean(sure)}, where it is not ${mean(unsure)}`);
    // Order 0 and orders 6–8 never occur in these samples.
    assert.equal(gate.bias[0], -20);
    assert.equal(gate.bias[8], -20);
    // The fit lowers the loss from the start (θ = 0).
    const features = samples.map(gateFeatures);
    const theta = [...gate.bias, gate.logCount, gate.cacheTop];
    assert.ok(gateLoss(theta, features, samples, 0.95, 0).loss < gateLoss(new Array(theta.length).fill(0), features, samples, 0.95, 0).loss);
  });
});
