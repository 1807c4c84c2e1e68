// Each rank writes many long lines in pieces, to test that lines never interleave.
const rank = process.env.TSMPI_COMM_WORLD_RANK ?? '?';
for (let i = 0; i < 200; i++) {
  const body = String(rank).repeat(3000);
  process.stdout.write(`L${rank}:${i}:`);
  process.stdout.write(body.slice(0, 1500));
  process.stdout.write(`${body.slice(1500)}\n`);
}
