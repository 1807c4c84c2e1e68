/*
 * Baseline (b): the same OSU-style tests as bench/osu.ts, in C over Open MPI.
 * Built and run by bench/run.ts when mpicc and mpirun are installed:
 *   mpicc -O2 -o osu bench/osu.c
 *   mpirun -np 2 --mca btl tcp,self --mca btl_tcp_if_include lo ./osu p2p [--quick]
 * Rank 0 prints one JSON row per line, like bench/osu.ts. Sizes, windows and
 * iteration counts follow bench/common.ts.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int quick = 0;
static const long KiB = 1024, MiB = 1024 * 1024;

static void iterations(long bytes, int *warmup, int *timed) {
  if (quick) { *warmup = 2; *timed = 5; return; }
  if (bytes >= 16 * MiB) { *warmup = 1; *timed = 5; return; }
  if (bytes >= MiB) { *warmup = 5; *timed = 30; return; }
  if (bytes >= 64 * KiB) { *warmup = 20; *timed = 200; return; }
  *warmup = 1000; *timed = 5000;
}

static int window(long bytes) {
  long w = (256 * MiB) / bytes;
  if (w < 2) w = 2;
  if (w > 64) w = 64;
  return (int)w;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *xs, int n) {
  qsort(xs, n, sizeof(double), cmp);
  return xs[(n - 1) / 2];
}

static void emit(int rank, int np, const char *test, long bytes, double value, const char *unit) {
  if (rank == 0) printf("{\"stack\":\"openmpi\",\"test\":\"%s\",\"np\":%d,\"bytes\":%ld,\"value\":%.3f,\"unit\":\"%s\"}\n", test, np, bytes, value, unit);
  fflush(stdout);
}

static void p2p(int rank) {
  const long lat[] = {8, 64, KiB, 8 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB};
  const long bw[] = {64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB};
  const long qlat[] = {8, 64 * KiB}, qbw[] = {64 * KiB, MiB};
  int nlat = quick ? 2 : 8, nbw = quick ? 2 : 6;
  char *buf = malloc(64 * MiB), *rbuf = malloc(64 * MiB);
  memset(buf, 1, 64 * MiB);
  for (int s = 0; s < nlat; s++) {
    long bytes = quick ? qlat[s] : lat[s];
    int warmup, timed;
    iterations(bytes, &warmup, &timed);
    double *rtt = malloc(sizeof(double) * timed);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < warmup + timed; i++) {
      double t = MPI_Wtime();
      if (rank == 0) {
        MPI_Send(buf, (int)bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
        MPI_Recv(rbuf, (int)bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else {
        MPI_Recv(rbuf, (int)bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf, (int)bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
      }
      if (i >= warmup) rtt[i - warmup] = (MPI_Wtime() - t) * 1e6;
    }
    emit(rank, 2, "latency", bytes, median(rtt, timed) / 2, "us");
    free(rtt);
  }
  for (int bidi = 0; bidi <= 1; bidi++) {
    for (int s = 0; s < nbw; s++) {
      long bytes = quick ? qbw[s] : bw[s];
      int w = window(bytes), warmup, timed;
      iterations(bytes * w, &warmup, &timed);
      double *rate = malloc(sizeof(double) * timed);
      MPI_Request *req = malloc(sizeof(MPI_Request) * 2 * w);
      char **bufs = malloc(sizeof(char *) * w);
      for (int k = 0; k < w; k++) bufs[k] = malloc(bytes);
      MPI_Barrier(MPI_COMM_WORLD);
      for (int i = 0; i < warmup + timed; i++) {
        double t = MPI_Wtime();
        int n = 0;
        if (rank == 0 || bidi) for (int k = 0; k < w; k++) MPI_Isend(buf, (int)bytes, MPI_CHAR, 1 - rank, 2, MPI_COMM_WORLD, &req[n++]);
        if (rank == 1 || bidi) for (int k = 0; k < w; k++) MPI_Irecv(bufs[k], (int)bytes, MPI_CHAR, 1 - rank, 2, MPI_COMM_WORLD, &req[n++]);
        MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
        int ack = 0;
        if (rank == 1) MPI_Send(&ack, 1, MPI_INT, 0, 3, MPI_COMM_WORLD);
        else MPI_Recv(&ack, 1, MPI_INT, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (i >= warmup) rate[i - warmup] = ((bidi ? 2.0 : 1.0) * bytes * w) / ((MPI_Wtime() - t) * 1e6);
      }
      emit(rank, 2, bidi ? "bibw" : "bw", bytes, median(rate, timed), "MB/s");
      for (int k = 0; k < w; k++) free(bufs[k]);
      free(bufs);
      free(req);
      free(rate);
    }
  }
  free(buf);
  free(rbuf);
}

static void collectives(int rank, int p) {
  const long sizes[] = {8, 64 * KiB, MiB, 16 * MiB, 64 * MiB};
  const long qsizes[] = {8, 64 * KiB};
  const char *names[] = {"bcast", "scatter", "gather", "allgather", "allreduce", "reduce_scatter", "alltoall"};
  int nsizes = quick ? 2 : 5;
  for (int c = 0; c < 7; c++) {
    for (int s = 0; s < nsizes; s++) {
      long bytes = quick ? qsizes[s] : sizes[s];
      long n = (bytes / 4 / p) * p;
      if (n < p) n = p;
      float *data = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n * p);
      for (long i = 0; i < n; i++) data[i] = (float)(rank + 1);
      int warmup, timed;
      iterations(bytes * p, &warmup, &timed);
      double *times = malloc(sizeof(double) * timed);
      int *counts = malloc(sizeof(int) * p);
      for (int r = 0; r < p; r++) counts[r] = (int)(n / p);
      for (int i = 0; i < warmup + timed; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        switch (c) {
          case 0: MPI_Bcast(data, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD); break;
          case 1: MPI_Scatter(out, (int)n, MPI_FLOAT, data, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD); break;
          case 2: MPI_Gather(data, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD); break;
          case 3: MPI_Allgather(data, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD); break;
          case 4: MPI_Allreduce(data, out, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
          case 5: MPI_Reduce_scatter(data, out, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); break;
          case 6: MPI_Alltoall(data, (int)(n / p), MPI_FLOAT, out, (int)(n / p), MPI_FLOAT, MPI_COMM_WORLD); break;
        }
        if (i >= warmup) times[i - warmup] = (MPI_Wtime() - t) * 1e6;
      }
      double mine = median(times, timed), worst;
      MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      emit(rank, p, names[c], bytes, worst, "us");
      free(data);
      free(out);
      free(times);
      free(counts);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--quick") == 0) quick = 1;
  if (argc > 1 && strcmp(argv[1], "p2p") == 0) p2p(rank);
  else collectives(rank, size);
  MPI_Finalize();
  return 0;
}
