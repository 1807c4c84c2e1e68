// A Node program that never uses tsmpi: it must run and exit normally under tsmpirun.
console.log(`plain program, rank ${process.env.TSMPI_COMM_WORLD_RANK}`);
