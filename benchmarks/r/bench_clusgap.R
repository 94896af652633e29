# Time R's cluster::clusGap for benchmarks/bench_kselector.py.
#
#   Rscript benchmarks/r/bench_clusgap.R DATA.csv K_MAX B NSTART ITER_MAX SEED MODE
#
# MODE "clusgap" times clusGap(x, kmeans, K.max, B, d.power = 2, spaceH0 =
# "scaledPCA", nstart, iter.max) itself.  clusGap computes W_k from dist() of
# each cluster, which needs n^2 / 2 doubles at K = 1 (40 GB at n = 1e5), so for
# large n MODE "kmeans-loop" times the same computation -- the same kmeans
# fits of the data and of B scaledPCA reference sets shared by every K, and
# W_k = tot.withinss / 2, which equals clusGap's W_k for d.power = 2 -- without
# dist().  Only the computation is timed, not reading the CSV or starting R.
# Prints one line of JSON: seconds, the gap table, the K of maxSE (default
# rule "firstSEmax" and "Tibs2001SEmax") and the number of kmeans warnings.

suppressPackageStartupMessages(library(cluster))
a <- commandArgs(trailingOnly = TRUE)
x <- as.matrix(read.csv(a[[1]]))
k_max <- as.integer(a[[2]]); B <- as.integer(a[[3]])
nstart <- as.integer(a[[4]]); iter_max <- as.integer(a[[5]])
seed <- as.integer(a[[6]]); mode <- a[[7]]

# clusGap's own algorithm (cluster 2.1.4, spaceH0 = "scaledPCA"), with W_k from
# kmeans' tot.withinss: sum_{i<j in r} ||x_i - x_j||^2 / n_r = withinss_r.
kmeans_loop <- function(x, k_max, B, ...) {
  n <- nrow(x)
  log_w <- function(X, k)
    log(if (k == 1) sum(scale(X, scale = FALSE)^2) / 2
        else kmeans(X, k, ...)$tot.withinss / 2)
  logW <- vapply(seq_len(k_max), function(k) log_w(x, k), 0)
  xs <- scale(x, center = TRUE, scale = FALSE)
  m.x <- rep(attr(xs, "scaled:center"), each = n)
  V.sx <- svd(xs, nu = 0)$v
  rng.x1 <- apply(xs %*% V.sx, 2L, range)
  logWks <- matrix(0, B, k_max)
  for (b in 1:B) {
    z1 <- apply(rng.x1, 2, function(M, nn) runif(nn, min = M[1], max = M[2]), nn = n)
    z <- tcrossprod(z1, V.sx) + m.x
    for (k in 1:k_max) logWks[b, k] <- log_w(z, k)
  }
  E.logW <- colMeans(logWks)
  cbind(logW, E.logW, gap = E.logW - logW,
        SE.sim = sqrt((1 + 1 / B) * apply(logWks, 2, var)))
}

n_warn <- 0L
set.seed(seed)
t0 <- proc.time()[["elapsed"]]
tab <- withCallingHandlers(
  if (mode == "clusgap") {
    clusGap(x, FUNcluster = kmeans, K.max = k_max, B = B, d.power = 2,
            spaceH0 = "scaledPCA", nstart = nstart, iter.max = iter_max)$Tab
  } else if (mode == "kmeans-loop") {
    kmeans_loop(x, k_max, B, nstart = nstart, iter.max = iter_max)
  } else stop("MODE must be 'clusgap' or 'kmeans-loop', not ", mode),
  # Hartigan-Wong warns (Quick-TRANSfer steps) on large data; count, go on.
  warning = function(w) { n_warn <<- n_warn + 1L; invokeRestart("muffleWarning") })
seconds <- proc.time()[["elapsed"]] - t0

vec <- function(v) paste0("[", paste(sprintf("%.10g", v), collapse = ", "), "]")
k_of <- function(m) maxSE(tab[, "gap"], tab[, "SE.sim"], method = m)
cat(sprintf(paste0('{"seconds": %.6f, "gap": %s, "gap_se": %s, "k_firstSEmax": %d, ',
                   '"k_Tibs2001SEmax": %d, "n_kmeans_warnings": %d}\n'),
            seconds, vec(tab[, "gap"]), vec(tab[, "SE.sim"]), k_of("firstSEmax"),
            k_of("Tibs2001SEmax"), n_warn))
