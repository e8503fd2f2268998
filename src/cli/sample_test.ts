import assert from "node:assert/strict";
import { parseSampling } from "./sample.ts";
import { parseRunArgs } from "./run.ts";

Deno.test("parseSampling reads exe and container rules in order and one default ratio", () => {
  assert.deepEqual(
    parseSampling(
      ["exe:/app/**=0.1", " container:3f2a9c=0 ", "0.5", "exe:/a=b/c=1"],
      "--sample",
    ),
    {
      rules: [
        { selector: { exe: "/app/**" }, ratio: 0.1 },
        { selector: { container: "3f2a9c" }, ratio: 0 },
        { selector: { exe: "/a=b/c" }, ratio: 1 },
      ],
      defaultRatio: 0.5,
    },
  );
  assert.deepEqual(parseSampling([], "--sample"), {
    rules: [],
    defaultRatio: 1,
  });
});

Deno.test("parseSampling refuses bad selectors, ratios and a second default, naming the source", () => {
  const cases: [string[], RegExp][] = [
    [
      ["pod:x=0.5"],
      /Invalid --sample "pod:x=0.5": expected exe:<glob>=<ratio>/,
    ],
    [["exe:=0.5"], /expected exe:<glob>/],
    [["/app=0.5"], /expected exe:<glob>/],
    [["exe:/app=1.5"], /the ratio "1.5" is not a number from 0/],
    [["exe:/app="], /the ratio "" is not/],
    [["exe:/app=-0.1"], /not a number/],
    [["half"], /the ratio "half"/],
    [["NaN"], /the ratio "NaN"/],
    [["0.5", "0.2"], /the default ratio is given twice/],
  ];
  for (const [items, message] of cases) {
    assert.throws(() => parseSampling(items, "--sample"), message);
  }
});

Deno.test("run reads --sample, else SPANBRIDGE_SAMPLE, into the controller's options", () => {
  const target = ["--target", "/bin/true"];
  const flags = parseRunArgs(
    [...target, "--sample", "exe:/bin/*=0.25", "--sample", "0"],
    { SPANBRIDGE_SAMPLE: "0.5" },
  );
  assert.deepEqual(flags.controller.sampling, {
    rules: [{ selector: { exe: "/bin/*" }, ratio: 0.25 }],
    defaultRatio: 0,
  });
  const env = parseRunArgs(target, {
    SPANBRIDGE_SAMPLE: "container:abc=0.1, 0.5",
  });
  assert.deepEqual(env.controller.sampling, {
    rules: [{ selector: { container: "abc" }, ratio: 0.1 }],
    defaultRatio: 0.5,
  });
  assert.equal(parseRunArgs(target, {}).controller.sampling, undefined);
  assert.throws(
    () => parseRunArgs(target, { SPANBRIDGE_SAMPLE: "2" }),
    /Invalid SPANBRIDGE_SAMPLE "2"/,
  );
});
