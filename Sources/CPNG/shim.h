#pragma once
#include <png.h>
#include <setjmp.h>

// Composite format macros (`A|B`) do not import into Swift; these constants do.
static const png_uint_32 tlearn_PNG_FORMAT_RGB = PNG_FORMAT_RGB;
static const png_uint_32 tlearn_PNG_FORMAT_RGBA = PNG_FORMAT_RGBA;
static const png_uint_32 tlearn_PNG_FORMAT_LINEAR_RGB = PNG_FORMAT_LINEAR_RGB;
static const png_uint_32 tlearn_PNG_FORMAT_LINEAR_RGB_ALPHA = PNG_FORMAT_LINEAR_RGB_ALPHA;
