/**
 * The part of benchmark.js's API that bench/micro.ts uses. benchmark.js ships no types and is not installed
 * yet: once `benchmark` and `@types/benchmark` are devDependencies, delete this file (the two declarations
 * would clash).
 */
declare module 'benchmark' {
  export interface Stats { readonly rme: number; readonly mean: number; readonly deviation: number; readonly sample: readonly number[] }
  export interface Target { readonly name?: string; readonly hz: number; readonly stats: Stats; readonly error?: unknown }
  export interface Event { readonly target: Target }
  export interface Options { readonly minSamples?: number; readonly maxTime?: number; readonly initCount?: number }
  export class Suite {
    constructor(name?: string);
    add(name: string, fn: () => void, options?: Options): Suite;
    on(type: 'cycle' | 'complete' | 'error', listener: (event: Event) => void): Suite;
    run(options?: { readonly async?: boolean }): Suite;
  }
  const Benchmark: { readonly Suite: typeof Suite };
  export default Benchmark;
}
