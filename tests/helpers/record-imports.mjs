// node --import ./record-imports.mjs …: appends every module URL the program resolves to $RECORD_IMPORTS.
import { register } from 'node:module';

register('./record-imports-hooks.mjs', import.meta.url, { data: { file: process.env.RECORD_IMPORTS } });
