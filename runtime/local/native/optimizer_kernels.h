/* The optimizer updates of optimizers.py for one element type, included once per type by
 * typed_kernels.h (T, NAME(x)): each cell's operations in the order of the DML body (and of
 * optimizers.py's numpy passes), every one rounded to T. The pragma keeps the compiler from
 * contracting a product and a sum into one fused multiply-add, which rounds once instead of
 * twice: so the bits are those of numpy's ufuncs one after the other (no-math-errno only lets
 * the square root stay a vector instruction). The numbers come as T,
 * as numpy casts a Python number meeting an array of T. An output may be its input (the update
 * in place): a cell is read before it is written. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-math-errno")
#define SQUARE_ROOT(x) _Generic((x), float: sqrtf, default: sqrt)(x)

/* X - X * weight_decay * lr where the update decays its parameter */
static inline T NAME(decayed)(T x, T weight_decay, T lr, long decay)
{
    if (!decay)
        return x;
    T shrink = x * weight_decay;
    shrink = shrink * lr;
    return x - shrink;
}

/* sgd::update. numbers: lr, momentum, weight_decay. geometry: cells, momentum (non-zero),
 * nesterov, decay (weight_decay non-zero). Without momentum v is neither read nor written. */
CLONES int NAME(sgd_update)(const T *x, const T *dx, const T *v, T *x_out, T *v_out,
                            const T *numbers, const long *geometry)
{
    const T lr = numbers[0], momentum = numbers[1], weight_decay = numbers[2];
    const long cells = geometry[0], has_momentum = geometry[1], nesterov = geometry[2],
               decay = geometry[3];
    for (long c = 0; c < cells; c++) {
        const T parameter = NAME(decayed)(x[c], weight_decay, lr, decay);
        const T step = dx[c] * lr;
        if (!has_momentum) {
            x_out[c] = parameter - step;
            continue;
        }
        T velocity = v[c] * momentum;
        velocity = velocity - step;
        v_out[c] = velocity;
        if (nesterov) {
            T ahead = velocity * momentum;
            ahead = ahead - step;
            x_out[c] = parameter + ahead;
        } else {
            x_out[c] = parameter + velocity;
        }
    }
    return 0;
}

/* adam::update without amsgrad. numbers: lr, alpha, keep1 (1 - beta1), keep2 (1 - beta2),
 * epsilon, weight_decay. geometry: cells, decay. */
CLONES int NAME(adam_update)(const T *x, const T *dx, const T *m, const T *v, T *x_out,
                             T *m_out, T *v_out, const T *numbers, const long *geometry)
{
    const T lr = numbers[0], alpha = numbers[1], keep1 = numbers[2], keep2 = numbers[3],
            epsilon = numbers[4], weight_decay = numbers[5];
    const long cells = geometry[0], decay = geometry[1];
    for (long c = 0; c < cells; c++) {
        const T parameter = NAME(decayed)(x[c], weight_decay, lr, decay), g = dx[c];
        T moved = g - m[c];
        moved = moved * keep1;
        const T first = m[c] + moved;
        T squared = g * g;
        squared = squared - v[c];
        squared = squared * keep2;
        const T second = v[c] + squared;
        T step = first * alpha;
        T root = SQUARE_ROOT(second);
        root = root + epsilon;
        step = step / root;
        m_out[c] = first;
        v_out[c] = second;
        x_out[c] = parameter - step;
    }
    return 0;
}

/* rmsprop::update without centering. numbers: lr, rho, keep (1 - rho), momentum, epsilon,
 * weight_decay. geometry: cells, momentum (above zero), decay. Without momentum mom is neither
 * read nor written. */
CLONES int NAME(rmsprop_update)(const T *x, const T *dx, const T *s, const T *mom, T *x_out,
                                T *s_out, T *mom_out, const T *numbers, const long *geometry)
{
    const T lr = numbers[0], rho = numbers[1], keep = numbers[2], momentum = numbers[3],
            epsilon = numbers[4], weight_decay = numbers[5];
    const long cells = geometry[0], has_momentum = geometry[1], decay = geometry[2];
    for (long c = 0; c < cells; c++) {
        const T parameter = NAME(decayed)(x[c], weight_decay, lr, decay), g = dx[c];
        T squared = g * g;
        squared = keep * squared;
        T mean = rho * s[c];
        mean = mean + squared;
        s_out[c] = mean;
        T denominator = mean + epsilon;
        denominator = SQUARE_ROOT(denominator);
        T increment = lr * g;
        increment = increment / denominator;
        if (has_momentum) {
            T velocity = momentum * mom[c];
            velocity = velocity + increment;
            mom_out[c] = velocity;
            x_out[c] = parameter - velocity;
        } else {
            x_out[c] = parameter - increment;
        }
    }
    return 0;
}

#undef SQUARE_ROOT
#pragma GCC pop_options
