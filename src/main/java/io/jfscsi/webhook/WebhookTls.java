package io.jfscsi.webhook;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The webhook's serving certificate: from a directory ({@code tls.crt} and {@code tls.key}, the
 * names controller-runtime and cert-manager use, which the Go driver's {@code --webhook-cert-dir}
 * reads; any PEM key, PKCS#1, SEC1 or PKCS#8), or made at start by a CA of the driver's own whose
 * certificate is then the caBundle the MutatingWebhookConfiguration needs.
 *
 * @param caBundlePem the CA to trust, PEM: the own CA's, or {@code ca.crt} of the directory, else
 *     empty (the operator put the caBundle in the configuration)
 */
public record WebhookTls(SSLContext sslContext, Optional<String> caBundlePem) {

  private static final char[] NO_PASSWORD = new char[0];
  private static final Duration VALIDITY = Duration.ofDays(3650);

  /** From {@code dir}/tls.crt and tls.key (and ca.crt if there). */
  public static WebhookTls fromDirectory(Path dir) throws IOException {
    Path crt = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    if (!Files.isReadable(crt) || !Files.isReadable(key)) {
      throw new IOException("the webhook cert dir " + dir + " must hold tls.crt and tls.key (PEM)");
    }
    Optional<String> ca =
        Files.isReadable(dir.resolve("ca.crt"))
            ? Optional.of(Files.readString(dir.resolve("ca.crt")))
            : Optional.empty();
    return fromPem(new Pems(Files.readString(crt), Files.readString(key), ca), crt.toString());
  }

  /** A certificate chain, its key and the CA to trust, PEM ({@code where} names them in errors). */
  public record Pems(String certificate, String key, Optional<String> ca) {}

  public static WebhookTls fromPem(Pems pems, String where) throws IOException {
    List<X509Certificate> chain = new ArrayList<>();
    try (PEMParser pem = new PEMParser(new StringReader(pems.certificate()))) {
      for (Object o = pem.readObject(); o != null; o = pem.readObject()) {
        if (o instanceof X509CertificateHolder h) {
          chain.add(new JcaX509CertificateConverter().getCertificate(h));
        }
      }
    } catch (GeneralSecurityException e) {
      throw new IOException(where + " holds a certificate that cannot be read: " + e.getMessage());
    }
    if (chain.isEmpty()) {
      throw new IOException(where + " holds no PEM certificate");
    }
    PrivateKey privateKey;
    try (PEMParser pem = new PEMParser(new StringReader(pems.key()))) {
      Object o = pem.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      privateKey =
          switch (o) {
            case PEMKeyPair pair -> converter.getPrivateKey(pair.getPrivateKeyInfo());
            case PrivateKeyInfo info -> converter.getPrivateKey(info);
            case null, default ->
                throw new IOException("the key of " + where + " is no unencrypted PEM private key");
          };
    }
    return new WebhookTls(context(privateKey, chain.toArray(Certificate[]::new)), pems.ca());
  }

  /**
   * A CA of its own and a serving certificate it signs for {@code dnsNames} (the Service's names)
   * and {@code ips}; the CA's key is thrown away, so the CA signs nothing else.
   */
  public static WebhookTls selfMade(List<String> dnsNames, List<String> ips) {
    try {
      return fromPem(selfMadePems(dnsNames, ips), "the certificate made at start");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** As {@link #selfMade}, as PEM text (to keep in a Secret that every replica serves). */
  public static Pems selfMadePems(List<String> dnsNames, List<String> ips) {
    try {
      KeyPair caKeys = keys();
      X500Name caName = new X500Name("CN=jfs-csi webhook CA");
      Instant now = Instant.now();
      var ca =
          new JcaX509v3CertificateBuilder(
              caName,
              serial(),
              Date.from(now.minusSeconds(60)),
              Date.from(now.plus(VALIDITY)),
              caName,
              caKeys.getPublic());
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      ca.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      X509Certificate caCert = sign(ca.build(signer(caKeys)));

      KeyPair serverKeys = keys();
      String cn = dnsNames.isEmpty() ? "jfs-csi-webhook" : dnsNames.getFirst();
      var server =
          new JcaX509v3CertificateBuilder(
              caCert,
              serial(),
              Date.from(now.minusSeconds(60)),
              Date.from(now.plus(VALIDITY)),
              new X500Name("CN=" + cn),
              serverKeys.getPublic());
      List<GeneralName> names = new ArrayList<>();
      dnsNames.forEach(n -> names.add(new GeneralName(GeneralName.dNSName, n)));
      ips.forEach(ip -> names.add(new GeneralName(GeneralName.iPAddress, ip)));
      server.addExtension(
          Extension.subjectAlternativeName,
          false,
          new GeneralNames(names.toArray(GeneralName[]::new)));
      server.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      X509Certificate serverCert = sign(server.build(signer(caKeys)));
      return new Pems(
          pem(serverCert) + pem(caCert),
          pem(new JcaPKCS8Generator(serverKeys.getPrivate(), null)),
          Optional.of(pem(caCert)));
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException(
          "cannot make the webhook's certificate: " + e.getMessage(), e);
    }
  }

  /** The names a Service {@code name} in {@code namespace} is reached by. */
  public static List<String> serviceNames(String name, String namespace) {
    return List.of(
        name + "." + namespace + ".svc",
        name + "." + namespace + ".svc.cluster.local",
        name + "." + namespace,
        name);
  }

  private static SSLContext context(PrivateKey key, Certificate[] chain) throws IOException {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("webhook", key, NO_PASSWORD, chain);
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, NO_PASSWORD);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(kmf.getKeyManagers(), null, new SecureRandom());
      return ssl;
    } catch (GeneralSecurityException e) {
      throw new IOException(
          "the webhook's key and certificate do not make a TLS context: " + e.getMessage(), e);
    }
  }

  private static KeyPair keys() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE);
  }

  private static org.bouncycastle.operator.ContentSigner signer(KeyPair keys)
      throws OperatorCreationException {
    return new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate());
  }

  private static X509Certificate sign(X509CertificateHolder holder)
      throws GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(holder);
  }

  static String pem(Object o) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o);
    }
    return out.toString();
  }
}
