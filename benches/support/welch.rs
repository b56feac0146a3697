//! What the timing benches share: a repeatable generator and Welch's t-test
//! over two classes, accumulated online (dudect's statistic).

/// xorshift64*: a cheap, fixed-seed generator, so runs are repeatable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Running means and variances of two classes of timings.
#[derive(Default, Clone, Copy)]
pub struct Welch {
    pub n: [f64; 2],
    pub mean: [f64; 2],
    m2: [f64; 2],
}

impl Welch {
    pub fn push(&mut self, class: usize, x: f64) {
        self.n[class] += 1.0;
        let delta = x - self.mean[class];
        self.mean[class] += delta / self.n[class];
        self.m2[class] += delta * (x - self.mean[class]);
    }

    /// Welch's t statistic; |t| above 4.5 says the classes differ.
    pub fn t(&self) -> f64 {
        let var = |c: usize| self.m2[c] / (self.n[c] - 1.0);
        (self.mean[0] - self.mean[1]) / (var(0) / self.n[0] + var(1) / self.n[1]).sqrt()
    }
}
