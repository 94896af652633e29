# A minimal JSON writer for the fixture scripts (base R has none; jsonlite is
# not a dependency).  Named list -> object, unnamed list -> array, atomic of
# length 1 -> scalar, longer atomic -> array.  Wrap a vector in as.list() to
# force an array.  Source it from the repository root:
#   source("benchmarks/r/json_writer.R")
num <- function(x) {
  stopifnot(all(is.finite(x)))
  # 17 significant digits: Python's float() reads back the same double.
  sprintf("%.17g", x)
}
to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, "", indent = inner)
    if (!is.null(names(x))) items <- paste0('"', names(x), '": ', items)
    open <- if (is.null(names(x))) "[" else "{"
    close <- if (is.null(names(x))) "]" else "}"
    # Short arrays of scalars stay on one line to keep the file readable.
    if (is.null(names(x)) && all(!grepl("[\\[{]", items)))
      return(paste0(open, paste(items, collapse = ", "), close))
    return(paste0(open, "\n", inner, paste(items, collapse = paste0(",\n", inner)),
                  "\n", indent, close))
  }
  vals <- if (is.character(x)) paste0('"', x, '"')
          else if (is.logical(x)) tolower(as.character(x))
          else if (is.integer(x)) as.character(x)
          else num(x)
  if (length(x) == 1) vals else paste0("[", paste(vals, collapse = ", "), "]")
}
rows <- function(m) lapply(seq_len(nrow(m)), function(i) unname(m[i, ]))
