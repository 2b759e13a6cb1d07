import Fastify from 'fastify';

/**
 * fastify/benchmarks' fastify app (benchmarks/fastify.js): one route answering {hello:'world'} with a
 * response schema, no logger. Plus GET /__bench/cpu so its CPU can be charged like every other SUT.
 */
const app = Fastify();
const schema = {
  schema: {
    response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } },
  },
};
app.get('/', schema, (_request, reply) => {
  reply.send({ hello: 'world' });
});
app.get('/__bench/cpu', async () => process.cpuUsage());
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`READY ${address}\n`);
process.on('SIGTERM', () => process.exit(0));
