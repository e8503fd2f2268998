/**
 * The spanbridge version, taken from deno.json so there is one place to bump.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** The version of this spanbridge build. */
export const version: string = config.version;
