#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './run-cli.js';
import { processIo } from './cli-io.js';

process.exitCode = await runCli(process.argv.slice(2), processIo);
