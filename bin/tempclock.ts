#!/usr/bin/env node
import { runCli } from '../cli/tempclock.js'

// The executable: the commands live in cli/tempclock.ts, which never exits the process itself.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdin: process.stdin
})
