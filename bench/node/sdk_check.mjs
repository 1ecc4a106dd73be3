// The sidecar through the official Node SDKs (openai, @anthropic-ai/sdk, @google/genai): a manual check,
// not part of the test suite (bench/node/README.md says how to run it). It starts three fake providers
// (one per dialect) and a sidecar on free ports, sends each caller dialect to each upstream dialect, and
// prints one line per case: PASS, or FAIL with what came instead. Exit status 1 when a case failed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, Type } from '@google/genai';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PYTHON = process.env.PYTHON || path.join(REPO, '.venv/bin/python');
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-check-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(args, name) {
  const log = fs.openSync(path.join(DIR, `${name}.log`), 'w');
  const child = spawn(PYTHON, ['-m', 'sidecar', ...args], { cwd: REPO, stdio: ['ignore', log, log] });
  children.push(child);
}

async function portOf(file) {
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).port;
    await sleep(100);
  }
  throw new Error(`${file} never appeared (logs in ${DIR})`);
}

const DIALECTS = ['openai', 'anthropic', 'gemini'];
const TARGETS = DIALECTS.map((d) => `to-${d}`);
const fakes = {};
for (const d of DIALECTS) start(['fake-provider', '--port', '0', '--name', `fake-${d}`, '--ports-file', path.join(DIR, `fake-${d}.json`)], `fake-${d}`);
for (const d of DIALECTS) fakes[d] = `http://127.0.0.1:${await portOf(path.join(DIR, `fake-${d}.json`))}`;
const policy = `version: 1
defaults:
  resilience: {backoff: {base_s: 0.01, cap_s: 0.05}, last_resort: {retry_after_s: 0}}
providers:
${DIALECTS.map((d) => `  p-${d}: {kind: fake, base_url: "${fakes[d]}", speaks: ${d}}`).join('\n')}
models:
  to-openai: {provider: p-openai, model: gpt-4o-mini}
  to-anthropic: {provider: p-anthropic, model: claude-3-5-haiku-latest, max_output_tokens: 1024}
  to-gemini: {provider: p-gemini, model: gemini-2.0-flash}
`;
fs.writeFileSync(path.join(DIR, 'policy.yaml'), policy);
start(['run', '--policy', path.join(DIR, 'policy.yaml'), '--port', '0', '--ports-file', path.join(DIR, 'sidecar.json')], 'sidecar');
const URL = `http://127.0.0.1:${await portOf(path.join(DIR, 'sidecar.json'))}`;

const accessLines = () => fs.readFileSync(path.join(DIR, 'sidecar.log'), 'utf8').split('\n').filter((l) => l.includes('"event":"access"')).map((l) => JSON.parse(l));
const inFlight = async () => {
  let n = 0;
  for (const d of DIALECTS) n += (await (await fetch(`${fakes[d]}/_fake/stats`)).json()).in_flight;
  return n;
};
const clients = (headers = {}, maxRetries = 0) => ({
  openai: new OpenAI({ baseURL: `${URL}/v1`, apiKey: 'x', maxRetries, defaultHeaders: headers }),
  anthropic: new Anthropic({ baseURL: URL, apiKey: 'x', maxRetries, defaultHeaders: headers }),
  gemini: new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: URL, headers } }),
});

const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
const TOOLS = {
  openai: [{ type: 'function', function: { name: 'get_weather', parameters: schema } }, { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } }],
  anthropic: [{ name: 'get_weather', input_schema: schema }, { name: 'now', input_schema: { type: 'object', properties: {} } }],
  gemini: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ['city'] } }, { name: 'now' }] }],
};
const CALLS = JSON.stringify([['get_weather', { city: 'test' }], ['now', {}]]);

// Each caller's way to ask: the text of a streamed answer with its usage, and the calls of a streamed answer.
const stream = {
  async openai(c, model, text, tools) {
    const s = c.chat.completions.stream({ model, messages: [{ role: 'user', content: text }], tools, stream_options: { include_usage: true } });
    const m = (await s.finalChatCompletion());
    const calls = (m.choices[0].message.tool_calls ?? []).map((t) => [t.function.name, JSON.parse(t.function.arguments)]);
    return { text: m.choices[0].message.content, usage: m.usage?.total_tokens, calls };
  },
  async anthropic(c, model, text, tools) {
    const m = await c.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: text }], tools }).finalMessage();
    const calls = m.content.filter((b) => b.type === 'tool_use').map((b) => [b.name, b.input]);
    return { text: m.content.filter((b) => b.type === 'text').map((b) => b.text).join('') || null, usage: m.usage.input_tokens + m.usage.output_tokens, calls };
  },
  async gemini(c, model, text, tools) {
    const s = await c.models.generateContentStream({ model, contents: text, config: tools ? { tools } : {} });
    let out = '', usage, calls = [];
    for await (const f of s) {
      out += f.candidates?.[0]?.content?.parts?.filter((p) => p.text !== undefined).map((p) => p.text).join('') ?? '';
      calls.push(...(f.functionCalls ?? []).map((fc) => [fc.name, fc.args]));
      usage = f.usageMetadata?.totalTokenCount ?? usage;
    }
    return { text: out || null, usage, calls };
  },
};

// One chat call with the SDK's default retries; the status it raised.
async function failing(caller, model, fault) {
  const c = clients({ 'x-fake-fault': fault }, 2)[caller === 'responses' ? 'openai' : caller];
  const messages = [{ role: 'user', content: 'hello' }];
  try {
    if (caller === 'responses') await c.responses.create({ model, input: 'hello' });
    else if (caller === 'openai') await c.chat.completions.create({ model, messages });
    else if (caller === 'anthropic') await c.messages.create({ model, max_tokens: 20, messages });
    else await c.models.generateContent({ model, contents: 'hello' });
    return 200;
  } catch (e) {
    return e.status;
  }
}

async function abortMidStream(caller, model) {
  const c = clients({ 'x-fake-fault': 'stall-mid=6;for=20' })[caller];
  const ac = new AbortController();
  const text = 'a b c d e f g h';
  try {
    if (caller === 'openai') {
      const s = await c.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: text }] }, { signal: ac.signal });
      for await (const _ of s) ac.abort();
    } else if (caller === 'anthropic') {
      const s = await c.messages.create({ model, max_tokens: 100, stream: true, messages: [{ role: 'user', content: text }] }, { signal: ac.signal });
      for await (const e of s) if (e.type === 'content_block_delta') ac.abort();
    } else {
      const s = await c.models.generateContentStream({ model, contents: text, config: { abortSignal: ac.signal } });
      for await (const _ of s) ac.abort();
    }
  } catch (e) {
    if (e.name !== 'AbortError' && !String(e.constructor.name).includes('Abort')) throw e;
  }
  await sleep(500);
  return { inFlight: await inFlight(), outcome: accessLines().at(-1).outcome };
}

// The Responses API (openai-node's `responses`), translated for an Anthropic or Gemini target.
const RESPONSES_TOOLS = [{ type: 'function', name: 'get_weather', parameters: schema }, { type: 'function', name: 'now', parameters: { type: 'object', properties: {} } }];
const callsOf = (r) => r.output.filter((i) => i.type === 'function_call').map((i) => [i.name, JSON.parse(i.arguments)]);
const responsesCases = {
  async created(c, model) {
    const r = await c.responses.create({ model, input: 'hello there', instructions: 'be brief' });
    return [r.object, r.status, r.output_text, r.usage.total_tokens];
  },
  async streamed(c, model) {
    const s = c.responses.stream({ model, input: 'hello there' });
    const types = new Set();
    s.on('event', (e) => types.add(e.type));
    const r = await s.finalResponse();
    return [r.status, r.output_text, r.usage.total_tokens, types.has('response.output_text.delta'), types.has('response.completed')];
  },
  async streamedCalls(c, model) {
    const r = await c.responses.stream({ model, input: 'both fake:tools2', tools: RESPONSES_TOOLS }).finalResponse();
    return JSON.stringify(callsOf(r));
  },
  async roundTrip(c, model) {
    const input = [{ role: 'user', content: 'weather fake:tool' }];
    const first = await c.responses.create({ model, input, tools: RESPONSES_TOOLS });
    const calls = first.output.filter((i) => i.type === 'function_call');
    const second = await c.responses.create({
      model, tools: RESPONSES_TOOLS,
      input: [...input, ...first.output, ...calls.map((i) => ({ type: 'function_call_output', call_id: i.call_id, output: 'sunny' }))],
    });
    return [calls.length, calls[0]?.name, second.output_text];
  },
  async parsed(c, model) {
    const format = { type: 'json_schema', name: 'place', schema: { ...schema, additionalProperties: false }, strict: true };
    const r = await c.responses.parse({ model, input: 'a city', text: { format } });
    return [r.status, typeof r.output_parsed?.city];
  },
  async reasoningSentBack(c, model) {
    const asked = { model, reasoning: { effort: 'low', summary: 'auto' }, max_output_tokens: 2048 };
    const s = c.responses.stream({ ...asked, input: 'think first' });
    const types = [];
    s.on('event', (e) => types.push(e.type));
    const first = await s.finalResponse();
    const input = [{ role: 'user', content: 'think first' }, ...first.output, { role: 'user', content: 'and again' }];
    const { data, response } = await c.responses.create({ ...asked, input }).withResponse();
    return [first.output.map((i) => i.type), types.indexOf('response.reasoning_summary_text.delta') < types.indexOf('response.output_text.delta'),
      first.output[0].summary?.[0]?.text?.length > 0, data.output_text, response.headers.get('x-sidecar-dropped-params')];
  },
  async failingMidStream(c, model) {
    const out = [];
    for (const fault of ['error-event=4', 'cut=4']) {
      const deltas = [];
      try {
        const s = clients({ 'x-fake-fault': fault }).openai.responses.stream({ model, input: 'hello there my good friend' });
        for await (const e of s) if (e.type === 'response.output_text.delta') deltas.push(e.delta);
        out.push('completed');
      } catch (e) {
        out.push(`${e.constructor.name}, ${deltas.length > 0 && deltas.join('') !== 'hello there my good friend'}`);
      }
    }
    return out;
  },
  async abort(c, model) {
    const a = clients({ 'x-fake-fault': 'stall-mid=6;for=20' }).openai;
    const ac = new AbortController();
    try {
      const s = await a.responses.create({ model, stream: true, input: 'a b c d e f g h' }, { signal: ac.signal });
      for await (const e of s) if (e.type === 'response.output_text.delta') ac.abort();
    } catch (e) {
      if (e.name !== 'AbortError' && !String(e.constructor.name).includes('Abort')) throw e;
    }
    await sleep(500);
    return { inFlight: await inFlight(), outcome: accessLines().at(-1).outcome };
  },
};
const RESPONSES_EXPECTED = {
  created: ['response', 'completed', 'hello there', 8],
  streamed: ['completed', 'hello there', 6, true, true],
  streamedCalls: CALLS,
  // the fake Gemini echoes the functionResponse's `response`, where a string output is {"result": ...}
  roundTrip: (model) => [1, 'get_weather', `Tool result received: ${model === 'to-gemini' ? '{"result":"sunny"}' : 'sunny'}`],
  parsed: ['completed', 'string'],
  // the reasoning item sent back in `input` is dropped and listed (docs/translation.md, "The Responses API")
  reasoningSentBack: [['reasoning', 'message'], true, true, 'and again', 'input.reasoning'],
  // the target's error event, or a cut, after some text: the SDK raises, the stream never completes
  failingMidStream: ['APIError, true', 'APIError, true'],
  abort: { inFlight: 0, outcome: 'client_closed' },
};

let failed = 0;
async function check(name, fn, expect) {
  if (process.env.ONLY && !name.includes(process.env.ONLY)) return; // ONLY=responses: those cases alone
  let got;
  try {
    got = await fn();
  } catch (e) {
    got = `${e.constructor.name}: ${String(e.message).slice(0, 160)}`;
  }
  const ok = JSON.stringify(got) === JSON.stringify(expect);
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : `: got ${JSON.stringify(got)}, expected ${JSON.stringify(expect)}`}`);
}

try {
  for (const caller of DIALECTS) {
    for (const model of TARGETS) {
      const c = clients()[caller];
      const at = `${caller} -> ${model}`;
      await check(`${at}: streamed text and usage`, async () => {
        const r = await stream[caller](c, model, 'hello there', undefined);
        return [r.text, r.usage];
      }, ['hello there', 6]);
      await check(`${at}: streamed parallel calls, one without arguments`, async () => JSON.stringify((await stream[caller](c, model, 'both fake:tools2', TOOLS[caller])).calls), CALLS);
      await check(`${at}: abort mid-stream cancels the upstream call`, () => abortMidStream(caller, model), { inFlight: 0, outcome: 'client_closed' });
      const retrying = caller !== 'gemini'; // google-genai retries nothing by default
      for (const [fault, status, requests] of [['status=400', 400, 1], ['status=400;should-retry=true', 400, 1], ['status=500', 500, 1], ['status=429;after=1', 429, retrying ? 3 : 1]]) {
        await check(`${at}: ${fault} -> ${status}, ${requests} request(s) to the sidecar`, async () => {
          const before = accessLines().length;
          const got = await failing(caller, model, fault);
          await sleep(200);
          return [got, accessLines().length - before];
        }, [status, requests]);
      }
    }
  }
  for (const model of ['to-anthropic', 'to-gemini']) {
    for (const [name, fn] of Object.entries(responsesCases)) {
      const expected = RESPONSES_EXPECTED[name];
      await check(`responses -> ${model}: ${name}`, () => fn(clients().openai, model), typeof expected === 'function' ? expected(model) : expected);
    }
    for (const [fault, status, requests] of [['status=400', 400, 1], ['status=500', 500, 1], ['status=429;after=1', 429, 3]]) {
      await check(`responses -> ${model}: ${fault} -> ${status}, ${requests} request(s) to the sidecar`, async () => {
        const before = accessLines().length;
        const got = await failing('responses', model, fault);
        await sleep(200);
        return [got, accessLines().length - before];
      }, [status, requests]);
    }
  }
} finally {
  // SIGTERM drains; wait for every process to exit (at most 10 s, then SIGKILL) so that none outlives the run
  await Promise.all(children.map((child) => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  })));
}
console.log(failed ? `${failed} case(s) failed; logs in ${DIR}` : `every case passed; logs in ${DIR}`);
process.exit(failed ? 1 : 0);
