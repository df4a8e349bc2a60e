/** A list of child modules named "0", "1", … (parameter names `prefix.{i}.…`). */
import { Module } from "../nn/module.js";

export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];
  constructor(items: M[]) {
    super();
    items.forEach((m, i) => this.child(String(i), m));
    this.items = items;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i]!;
  }
}
