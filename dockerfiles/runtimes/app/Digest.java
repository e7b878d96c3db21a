// A small Java program (run by the JRE's source launcher): digests its argument with the
// providers java.security configures, and with BouncyCastle when its jar is on the class path.
import java.security.MessageDigest;
import java.security.Provider;
import java.security.Security;

public class Digest {
    public static void main(String[] args) throws Exception {
        try {
            Class<?> bc = Class.forName("org.bouncycastle.jce.provider.BouncyCastleProvider");
            Security.addProvider((Provider) bc.getDeclaredConstructor().newInstance());
        } catch (ClassNotFoundException absent) {
            // no BouncyCastle on the class path: the configured providers only
        }
        for (String algorithm : new String[] {"SHA-256", "MD5"}) {
            MessageDigest digest = MessageDigest.getInstance(algorithm);
            System.out.println(algorithm + " from " + digest.getProvider().getName());
        }
        Thread.sleep(Long.MAX_VALUE); // stay up like a server
    }
}
