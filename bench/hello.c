/* The C counterpart of examples/hello.ts, for the start-up comparison in bench/run.ts:
 *   mpicc -O2 -o hello bench/hello.c && mpirun -n 4 ./hello */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int rank, size, len;
  char host[MPI_MAX_PROCESSOR_NAME];
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Get_processor_name(host, &len);
  printf("hello from rank %d of %d on %s (pid %d)\n", rank, size, host, (int)getpid());
  MPI_Finalize();
  return 0;
}
