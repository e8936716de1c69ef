package io.jfscsi.csi;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.util.List;
import java.util.Map;

/**
 * One check over every string of a request, before any handler sees it: none may hold a NUL. No
 * field of CSI can mean one, and every place a string goes (a path, an argument, an environment
 * variable, a Kubernetes object) either refuses it with an exception that would otherwise surface
 * as INTERNAL, or cuts the string there. Map keys are named in the message, values never (they may
 * be secrets).
 */
final class RequestStrings {
  private RequestStrings() {}

  static void check(Message request) {
    check("", request);
  }

  private static void check(String prefix, Message message) {
    for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
      FieldDescriptor field = e.getKey();
      String name = prefix + field.getName();
      if (field.isMapField()) {
        for (Object entry : (List<?>) e.getValue()) {
          mapEntry(name, (Message) entry);
        }
      } else if (field.isRepeated()) {
        List<?> items = (List<?>) e.getValue();
        for (int i = 0; i < items.size(); i++) {
          value(name + "[" + i + "]", items.get(i));
        }
      } else {
        value(name, e.getValue());
      }
    }
  }

  private static void mapEntry(String name, Message entry) {
    Object key = null;
    Object value = null;
    for (Map.Entry<FieldDescriptor, Object> f : entry.getAllFields().entrySet()) {
      if (f.getKey().getNumber() == 1) {
        key = f.getValue();
      } else {
        value = f.getValue();
      }
    }
    String keyText = key == null ? "" : key.toString();
    if (keyText.indexOf('\0') >= 0) {
      throw Failure.invalid(name + " has a key with a NUL character: " + Quoted.of(keyText));
    }
    if (value instanceof String s && s.indexOf('\0') >= 0) {
      throw Failure.invalid(
          name + "[" + Quoted.of(keyText) + "] has a NUL character in its " + "value");
    }
    if (value instanceof Message m) {
      check(name + "[" + Quoted.of(keyText) + "].", m);
    }
  }

  private static void value(String name, Object value) {
    if (value instanceof String s && s.indexOf('\0') >= 0) {
      throw Failure.invalid(name + " has a NUL character");
    }
    if (value instanceof Message m) {
      check(name + ".", m);
    }
  }
}
