#pragma once
#include <stddef.h>
#include <cblas.h>

/* LAPACK, which OpenBLAS ships: the symmetric eigensolver behind PCA (Kernels/Eigen.swift, its only
   caller). Fortran convention: every argument by pointer, then the hidden lengths of the CHARACTER
   arguments (gfortran passes them as size_t, last). */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const blasint *n, double *a, const blasint *lda,
             const double *vl, const double *vu, const blasint *il, const blasint *iu, const double *abstol,
             blasint *m, double *w, double *z, const blasint *ldz, blasint *isuppz, double *work,
             const blasint *lwork, blasint *iwork, const blasint *liwork, blasint *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);
