/* Attention with summaries on the CPU: one flash-style pass per block of query rows.
 *
 * The CPU counterpart of fused_attention.py (Triton, CUDA). For each (batch, query head,
 * block of BQ query rows) it walks the visible keys in tiles of BK, keeping the running row
 * max m, l = sum e, the output accumulator sum e v, the mass accumulator sum e onehot(segment)
 * and sum e (s - m), all rescaled when m grows, where e = exp(s - m). Everything a tile needs
 * stays in L1/L2, which a block loop written with PyTorch operations cannot arrange. At the end:
 * output = acc / l, mass / l, max weight = 1 / l, entropy = log l - sum e (s - m) / l.
 *
 * Built at first use by native_build.py with the machine's C compiler (-O3 -march=native
 * -fopenmp), loaded with ctypes; GCC vector extensions keep it portable across x86 and ARM.
 * Float32 throughout. Called from native_attention.py, which documents the arguments.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* W: floats per vector. MR: query rows per register block, as many as the vector registers
 * hold (MR x 2 accumulators + 3): 8 with AVX-512's 32 registers, 6 with AVX2's 16. BQ: query
 * rows per work item, a multiple of MR. Measured on a 2-core AMD EPYC (benchmarks/cpu_kernel.py):
 * with AVX-512, MR 4 -> 8 took the kernel from 0.9x to 0.65x PyTorch's SDPA; built for AVX2
 * (SDPA on AVX2 too), MR 4 -> 6 from 1.3x to 1.05x. -DMR=.. -DBQ=.. override them. */
#if defined(__AVX512F__)
#define W 16
#ifndef MR
#define MR 8
#endif
#ifndef BQ
#define BQ 32
#endif
#else
#define W 8
#ifndef MR
#define MR 6
#endif
#ifndef BQ
#define BQ 48
#endif
#endif
#define BK 256         /* keys per tile */
#define MASKED (-1e30f) /* score of a masked key; exp(MASKED - m) is exactly 0 */

typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));

static inline vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf splat(float x) { return (vf){0} + x; }
/* where m (all ones / all zeros per lane): a, else b; C has no vector ?: */
static inline vf vselect(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline vf vmaxf(vf a, vf b) { return vselect(a > b, a, b); }

/* exp(x) to ~1 ulp (Cephes-style: 2^n * polynomial on [-ln2/2, ln2/2]); exactly 0 below -87.3. */
static inline vf vexp(vf x) {
    const vf lo = splat(-87.3f), hi = splat(88.3f);
    vi under = x < lo;
    x = vselect(under, lo, x);
    x = vselect(x > hi, hi, x);
    const vf magic = splat(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    vf n = (x * splat(1.44269504088896341f) + magic) - magic;
    vf r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    vf p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
    vf scale;
    memcpy(&scale, &bits, sizeof scale);
    vf result = p * scale;
    return (vf)((vi)result & ~under);
}

static inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static inline float hsum(vf v) {
    float s = 0.0f;
    for (int i = 0; i < W; i++) s += v[i];
    return s;
}

/* s[BQ][BK] = q[BQ][D] . kt[D][ldk] (columns j0 .. j0 + BK): the scores of one tile. */
static void scores_tile(const float *q, int64_t D, const float *kt, int64_t ldk, int64_t j0, int rows,
                        float *s) {
    for (int i = 0; i < rows; i += MR) {
        for (int j = 0; j < BK; j += 2 * W) {
            vf a[MR][2];
            for (int r = 0; r < MR; r++) a[r][0] = a[r][1] = splat(0.0f);
            const float *col = kt + j0 + j;
            for (int64_t d = 0; d < D; d++) {
                vf k0 = load(col + d * ldk), k1 = load(col + d * ldk + W);
                for (int r = 0; r < MR; r++) {
                    vf qb = splat(q[(i + r) * D + d]);
                    a[r][0] += qb * k0;
                    a[r][1] += qb * k1;
                }
            }
            for (int r = 0; r < MR; r++) {
                store(s + (i + r) * BK + j, a[r][0]);
                store(s + (i + r) * BK + j + W, a[r][1]);
            }
        }
    }
}

/* acc[BQ][DVP] += e[BQ][BK] . v[BK][DVP]: the tile's contribution to the output. */
static void values_tile(const float *e, const float *v, int64_t DVP, int rows, float *acc) {
    for (int i = 0; i < rows; i += MR) {
        for (int64_t c = 0; c < DVP; c += 2 * W) {
            vf a[MR][2];
            for (int r = 0; r < MR; r++) {
                a[r][0] = load(acc + (i + r) * DVP + c);
                a[r][1] = load(acc + (i + r) * DVP + c + W);
            }
            for (int j = 0; j < BK; j++) {
                vf v0 = load(v + j * DVP + c), v1 = load(v + j * DVP + c + W);
                for (int r = 0; r < MR; r++) {
                    vf eb = splat(e[(i + r) * BK + j]);
                    a[r][0] += eb * v0;
                    a[r][1] += eb * v1;
                }
            }
            for (int r = 0; r < MR; r++) {
                store(acc + (i + r) * DVP + c, a[r][0]);
                store(acc + (i + r) * DVP + c + W, a[r][1]);
            }
        }
    }
}

/* The layout the caller must pad to: keys to a multiple of BK, value rows to a multiple of 2 W. */
int64_t atlas_key_tile(void) { return BK; }
int64_t atlas_value_align(void) { return 2 * W; }

typedef struct {
    float *q, *s, *acc, *mass, *m, *l, *sps;
} scratch_t;

/* Returns 0, or -1 when scratch memory cannot be allocated.
 *
 * q [B][H][TQ][D] (contiguous), kt [B][HKV][D][TKP] (keys transposed, zero-padded to TKP, a
 * multiple of BK), v [B][HKV][TKP][DVP] (zero-padded), segment / run_end [B][TK] int32, mask
 * NULL or int8 [.., TQ, TK] with strides (mask_sb, mask_sq, mask_sk), causal: no query sees a
 * later key (queries are the last TQ positions). Outputs: out [B][TQ][H][DV], mass
 * [B][H][TQ][NSEG], entropy and max_weight [B][H][TQ]. */
int atlas_attention_summaries(const float *q, const float *kt, const float *v, const int32_t *segment,
                              const int32_t *run_end, const int8_t *mask, int64_t mask_sb, int64_t mask_sq,
                              int64_t mask_sk, int64_t B, int64_t H, int64_t HKV, int64_t TQ, int64_t TK,
                              int64_t TKP, int64_t D, int64_t DV, int64_t DVP, int64_t NSEG, float scaling,
                              float softcap, int causal, float *out, float *mass, float *entropy,
                              float *max_weight, int n_threads) {
    const int64_t n_blocks = (TQ + BQ - 1) / BQ;
    const int64_t n_items = B * H * n_blocks;
    const int64_t offset = TK - TQ;
    const int64_t groups = H / HKV;
    int failed = 0;

#pragma omp parallel num_threads(n_threads)
    {
        scratch_t w;
        w.q = aligned_alloc(64, sizeof(float) * BQ * D + 64);
        w.s = aligned_alloc(64, sizeof(float) * BQ * BK);
        w.acc = aligned_alloc(64, sizeof(float) * BQ * DVP);
        w.mass = aligned_alloc(64, sizeof(float) * (BQ * NSEG + 16));
        w.m = aligned_alloc(64, sizeof(float) * BQ * 3);
        int ok = w.q && w.s && w.acc && w.mass && w.m;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        w.l = w.m + BQ;
        w.sps = w.m + 2 * BQ;

        /* last blocks first: under causality they cost the most */
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = n_items - 1; item >= 0; item--) {
            if (!ok) continue;
            const int64_t blk = item % n_blocks, bh = item / n_blocks;
            const int64_t b = bh / H, h = bh % H, hkv = h / groups;
            const int64_t i0 = blk * BQ;
            const int rows = (int)(TQ - i0 < BQ ? TQ - i0 : BQ);
            const int rows_padded = (rows + MR - 1) / MR * MR;
            const float *kt_bh = kt + (b * HKV + hkv) * D * TKP;
            const float *v_bh = v + (b * HKV + hkv) * TKP * DVP;
            const int32_t *seg = segment + b * TK, *ends = run_end + b * TK;

            memset(w.q, 0, sizeof(float) * BQ * D);
            const float *q_blk = q + ((b * H + h) * TQ + i0) * D;
            for (int64_t x = 0; x < rows * D; x++) w.q[x] = q_blk[x] * scaling;
            memset(w.acc, 0, sizeof(float) * BQ * DVP);
            memset(w.mass, 0, sizeof(float) * BQ * NSEG);
            for (int r = 0; r < BQ; r++) { w.m[r] = -INFINITY; w.l[r] = 0.0f; w.sps[r] = 0.0f; }

            /* keys past the last row's position are never visible under causality */
            int64_t key_stop = causal ? i0 + rows + offset : TK;
            if (key_stop > TK) key_stop = TK;
            for (int64_t j0 = 0; j0 < key_stop; j0 += BK) {
                const int64_t tile_keys = key_stop - j0 < BK ? key_stop - j0 : BK;
                if (mask) { /* skip tiles the mask hides from every row (sliding windows, padding) */
                    int any = 0;
                    for (int r = 0; r < rows && !any; r++) {
                        const int8_t *mrow = mask + b * mask_sb + (i0 + r) * mask_sq + j0 * mask_sk;
                        for (int64_t j = 0; j < tile_keys; j++) if (mrow[j * mask_sk]) { any = 1; break; }
                    }
                    if (!any) continue;
                }
                scores_tile(w.q, D, kt_bh, TKP, j0, rows_padded, w.s);
                for (int r = 0; r < rows_padded; r++) {
                    float *srow = w.s + r * BK;
                    int64_t lim = tile_keys;
                    if (causal) {
                        const int64_t visible = i0 + r + offset + 1 - j0;
                        if (visible < lim) lim = visible;
                    }
                    if (r >= rows) lim = 0;
                    if (lim <= 0) { memset(srow, 0, sizeof(float) * BK); continue; }
                    if (softcap > 0.0f)
                        for (int64_t j = 0; j < lim; j++) srow[j] = softcap * tanhf(srow[j] / softcap);
                    if (mask) {
                        const int8_t *mrow = mask + b * mask_sb + (i0 + r) * mask_sq + j0 * mask_sk;
                        for (int64_t j = 0; j < lim; j++) if (!mrow[j * mask_sk]) srow[j] = MASKED;
                    }
                    vf vmax = splat(MASKED);
                    int64_t j = 0;
                    for (; j + W <= lim; j += W) { vf x = load(srow + j); vmax = vmaxf(x, vmax); }
                    float tile_max = hmax(vmax);
                    for (; j < lim; j++) tile_max = srow[j] > tile_max ? srow[j] : tile_max;
                    if (tile_max <= MASKED / 2) { memset(srow, 0, sizeof(float) * BK); continue; }
                    const float m_old = w.m[r];
                    if (tile_max > m_old) { /* rescale what has been summed so far */
                        if (w.l[r] > 0.0f) {
                            const float alpha = expf(m_old - tile_max);
                            w.sps[r] = alpha * (w.sps[r] + w.l[r] * (m_old - tile_max));
                            w.l[r] *= alpha;
                            for (int64_t c = 0; c < DVP; c++) w.acc[r * DVP + c] *= alpha;
                            for (int64_t g = 0; g < NSEG; g++) w.mass[r * NSEG + g] *= alpha;
                        }
                        w.m[r] = tile_max;
                    }
                    const vf m = splat(w.m[r]);
                    vf vl = splat(0.0f), vs = splat(0.0f);
                    const vi iota = __builtin_convertvector((vf){0, 1, 2, 3, 4, 5, 6, 7
#if W == 16
                                                                 , 8, 9, 10, 11, 12, 13, 14, 15
#endif
                                                                }, vi);
                    for (j = 0; j < BK; j += W) {
                        vf x = load(srow + j) - m;
                        vf e = vexp(x);
                        e = (vf)((vi)e & ((iota + (int32_t)j) < (int32_t)lim));
                        vl += e;
                        vs += e * (vf)((vi)x & ((iota + (int32_t)j) < (int32_t)lim));
                        store(srow + j, e);
                    }
                    const float tile_l = hsum(vl);
                    w.l[r] += tile_l;
                    w.sps[r] += hsum(vs);
                    /* segment mass: the tile's visible keys, run by run of equal segment */
                    float *mrow = w.mass + r * NSEG;
                    if (ends[j0] >= j0 + lim) {
                        if (seg[j0] >= 0) mrow[seg[j0]] += tile_l;
                    } else {
                        for (int64_t k = j0; k < j0 + lim;) {
                            int64_t stop = ends[k] < j0 + lim ? ends[k] : j0 + lim;
                            if (seg[k] >= 0) {
                                float sum = 0.0f;
                                for (int64_t x = k; x < stop; x++) sum += srow[x - j0];
                                mrow[seg[k]] += sum;
                            }
                            k = stop;
                        }
                    }
                }
                values_tile(w.s, v_bh + j0 * DVP, DVP, rows_padded, w.acc);
            }
            for (int r = 0; r < rows; r++) {
                const int64_t i = i0 + r;
                const float l = w.l[r];
                const float inv = l > 0.0f ? 1.0f / l : 0.0f;
                float *o = out + ((b * TQ + i) * H + h) * DV;
                for (int64_t c = 0; c < DV; c++) o[c] = w.acc[r * DVP + c] * inv;
                float *ms = mass + ((b * H + h) * TQ + i) * NSEG;
                for (int64_t g = 0; g < NSEG; g++) ms[g] = w.mass[r * NSEG + g] * inv;
                const int64_t at = (b * H + h) * TQ + i;
                max_weight[at] = inv;
                float ent = l > 0.0f ? logf(l) - w.sps[r] * inv : 0.0f;
                entropy[at] = ent > 0.0f ? ent : 0.0f;
            }
        }
        free(w.q);
        free(w.s);
        free(w.acc);
        free(w.mass);
        free(w.m);
    }
    return failed ? -1 : 0;
}
