/**
 * The data path: finds the targets, attaches the probe to them, and moves
 * what the ring holds through the decoder into the export sink, keeping the
 * counters of every stage ({@linkcode ControllerStats}).
 *
 * ```ts ignore
 * const controller = await Controller.start({ targets, probe }, { sink, log });
 * // ... until a signal
 * await controller.stop();
 * const stats = controller.stats();
 * ```
 *
 * @module
 */

export * from "./controller.ts";
export {
  type BatchLossCounters,
  OTHER_SERVICES,
  type ProcessLoss,
} from "./batch_loss.ts";
