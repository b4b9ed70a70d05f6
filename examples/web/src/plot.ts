/** A live loss plot: the total loss and each task's, per step, on a canvas (no library). */
const COLORS: Record<string, string> = { total: '#1d232a', parsing: '#d9480f', landmarks: '#2b8a3e', emotion: '#1c7ed6' };

export class LossPlot {
  private readonly series = new Map<string, number[]>();

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.draw();
  }

  add(total: number, losses: Record<string, number>): void {
    for (const [name, v] of [['total', total] as const, ...Object.entries(losses)]) {
      if (!this.series.has(name)) this.series.set(name, []);
      this.series.get(name)!.push(v);
    }
    this.draw();
  }

  /** Steps plotted so far. */
  get steps(): number {
    return this.series.get('total')?.length ?? 0;
  }

  private draw(): void {
    const { width: W, height: H } = this.canvas;
    const ctx = this.canvas.getContext('2d')!;
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    const L = 44;
    const B = 20;
    const all = [...this.series.values()].flat().filter(Number.isFinite);
    const n = this.steps;
    if (n === 0) {
      ctx.fillStyle = '#46515c';
      ctx.fillText('the loss of every training step appears here', L, H / 2);
      return;
    }
    const max = Math.max(...all) * 1.05;
    const x = (i: number) => L + ((W - L - 8) * i) / Math.max(1, n - 1);
    const y = (v: number) => H - B - ((H - B - 8) * v) / max;
    ctx.strokeStyle = '#c3cad1';
    ctx.fillStyle = '#46515c';
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      ctx.beginPath();
      ctx.moveTo(L, y(v));
      ctx.lineTo(W - 8, y(v));
      ctx.stroke();
      ctx.fillText(v.toFixed(2), 4, y(v) + 4);
    }
    ctx.fillText(`step ${n}`, W - 60, H - 4);
    let lx = L;
    for (const [name, values] of this.series) {
      ctx.strokeStyle = COLORS[name] ?? '#7048e8';
      ctx.lineWidth = name === 'total' ? 2 : 1.2;
      ctx.beginPath();
      values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(name, lx, H - 4);
      lx += ctx.measureText(name).width + 14;
    }
  }
}
