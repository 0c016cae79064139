// A small Polku channel system in Node.js: the back end of a web feedback
// widget that forwards its customers' ratings to Polku as they come in, over
// one FeedbackService.StreamEvents stream at a time through polku-gateway,
// with the channel key of its channel. Built on @grpc/grpc-js and
// @grpc/proto-loader straight from the project's protos (no generated code).
//
//   node channel_system.mjs --gateway=127.0.0.1:7070 --key=$WEB_KEY \
//       --touchpoint=ad_click --events=1000 --rate=200
//
// Every event keeps the same event_id (and content) from its first send to
// its answer: when a stream fails with UNAVAILABLE (a polku-feedback restart,
// a lost connection) or RESOURCE_EXHAUSTED (a rate limit, a full writer
// queue), the events it had not answered are sent again, in order, on a new
// stream after a backoff (the server's retry-after-ms when it gives one).
// Polku answers an event that had been stored DUPLICATE, so nothing is
// stored twice. Any other error ends the run.
//
// The last line on stdout is a JSON summary: {"events", "accepted",
// "duplicates", "rejected", "retries", "streams"}; exit status 0 when every
// event was answered, 1 otherwise.
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = {
    gateway: '127.0.0.1:7070',
    key: process.env.POLKU_KEY ?? '',
    protos: path.resolve(here, '../../../protos'),
    touchpoint: 'ad_click',
    journey: '',
    events: 100,
    prefix: 'node-widget',
    rate: 0,              // events per second arriving; 0: all at once
    batch: 50,            // events per stream message
    streamEvents: 0,      // events per stream before it is closed; 0: no limit
    window: 1000,         // events written and unanswered, at most
    retryBudgetS: 120,    // seconds of retrying before giving up
  };
  for (const arg of argv) {
    const match = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg} (flags are --name=value)`);
    const name = match[1].replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    if (!(name in args)) throw new Error(`unknown flag --${match[1]}`);
    args[name] = typeof args[name] === 'number' ? Number(match[2]) : match[2];
  }
  if (!args.key) throw new Error('give --key (a channel key) or POLKU_KEY');
  return args;
}

function loadFeedbackService(protoDir) {
  const definition = protoLoader.loadSync('polku/v1/feedback.proto', {
    includeDirs: [protoDir],
    keepCase: true,  // field names as in the .proto: event_id, occurred_at
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).polku.v1.FeedbackService;
}

const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED]);

// What the widget hears from customer number `i`, the same on every call.
function makeEvent(args, i) {
  const occurred = Date.now() - 60_000;
  const event = {
    event_id: `${args.prefix}-${i}`,
    touchpoint: args.touchpoint,
    customer: `widget-customer-${i % 37}`,
    occurred_at: {seconds: String(Math.floor(occurred / 1000)), nanos: 0},
    csat: 1 + (i % 5),
    comment: i % 4 === 0 ? 'Sivusto oli selkeä.' : '',
    language: i % 4 === 0 ? 'fi' : '',
    attributes: {widget: 'footer'},
  };
  if (args.journey) event.journey = args.journey;
  return event;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const FeedbackService = loadFeedbackService(args.protos);
  const client = new FeedbackService(args.gateway, grpc.credentials.createInsecure());

  const pending = [];        // arrived, not yet written (retries first)
  let unanswered = [];       // written on the current stream, in order
  let arrived = 0;
  const summary = {events: args.events, accepted: 0, duplicates: 0, rejected: 0,
                   retries: 0, streams: 0};
  let backoffMs = 100;
  let retryingSince = null;
  let call = null;
  let writtenOnStream = 0;
  let finished = false;

  const done = new Promise((resolve, reject) => {
    const finish = (error) => {
      if (finished) return;
      finished = true;
      clearInterval(arrivals);
      client.close();
      if (error) reject(error); else resolve();
    };
    const answeredAll = () =>
        arrived === args.events && pending.length === 0 && unanswered.length === 0;

    // Customers' ratings arriving at `rate` per second.
    const arrive = (count) => {
      for (let k = 0; k < count && arrived < args.events; ++k) {
        pending.push(makeEvent(args, arrived++));
      }
    };
    const perTick = args.rate > 0 ? Math.max(1, Math.round(args.rate / 100)) : args.events;
    const arrivals = setInterval(() => {
      arrive(perTick);
      pump();
    }, 10);

    function openStream() {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${args.key}`);
      // Every call has a deadline; a long-lived stream is renewed within it.
      call = client.StreamEvents(metadata, {deadline: Date.now() + 60_000});
      summary.streams++;
      writtenOnStream = 0;
      const thisCall = call;
      thisCall.on('data', (response) => {
        for (const result of response.results) {
          const event = unanswered.shift();
          if (!event || event.event_id !== result.event_id) {
            thisCall.cancel();  // out of step: do not trust this stream
            return;
          }
          if (result.outcome === 'ACCEPTED') summary.accepted++;
          else if (result.outcome === 'DUPLICATE') summary.duplicates++;
          else {
            summary.rejected++;
            console.error(`rejected ${result.event_id}: ${result.field}: ${result.reason}`);
          }
        }
        retryingSince = null;
        backoffMs = 100;
        pump();
      });
      thisCall.on('error', (error) => {
        if (thisCall !== call) return;
        call = null;
        if (!RETRYABLE.has(error.code) && error.code !== grpc.status.CANCELLED &&
            error.code !== grpc.status.DEADLINE_EXCEEDED) {
          finish(new Error(`StreamEvents failed: ${error.code} ${error.details}`));
          return;
        }
        retryingSince ??= Date.now();
        if (Date.now() - retryingSince > args.retryBudgetS * 1000) {
          finish(new Error(`gave up after ${args.retryBudgetS} s of ${error.details}`));
          return;
        }
        // The unanswered events go first, with the same ids.
        pending.unshift(...unanswered);
        unanswered = [];
        const hint = Number(error.metadata?.get('retry-after-ms')?.[0]);
        const delay = hint > 0 ? hint : backoffMs * (0.5 + Math.random() / 2);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        summary.retries++;
        console.error(`${grpc.status[error.code]} (${error.details}); ` +
                      `re-sending ${pending.length} events in ${Math.round(delay)} ms`);
        setTimeout(pump, delay);
      });
      thisCall.on('status', (status) => {
        if (thisCall !== call || status.code !== grpc.status.OK) return;
        call = null;  // closed after streamEvents events, all answered
        pump();
      });
    }

    function pump() {
      if (finished) return;
      if (answeredAll()) {
        if (call) call.end();
        finish();
        return;
      }
      if (!call) {
        if (pending.length === 0) return;
        openStream();
      }
      const limit = args.streamEvents > 0 ? args.streamEvents : Infinity;
      while (pending.length > 0 && unanswered.length < args.window &&
             writtenOnStream < limit) {
        const events = pending.splice(
            0, Math.min(args.batch, args.window - unanswered.length,
                        limit - writtenOnStream));
        unanswered.push(...events);
        writtenOnStream += events.length;
        call.write({events});
      }
      if (writtenOnStream >= limit && call) call.end();
    }
  });

  try {
    await done;
  } catch (error) {
    console.error(`channel system: ${error.message}`);
    console.log(JSON.stringify(summary));
    process.exit(1);
  }
  console.log(JSON.stringify(summary));
}

main().catch((error) => {
  console.error(`channel system: ${error.message}`);
  process.exit(1);
});
